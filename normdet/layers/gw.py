"""Group Whitening (Huang, Zhou, Liu, Zhu, Shao, CVPR 2021, arXiv 2009.13333)."""
from mmengine.registry import MODELS
from torch import Tensor

from .base import _NormBase
from .whitening import covariance, newton_schulz_whitening, zca_whitening


@MODELS.register_module('GW')
class GroupWhitening(_NormBase):
    r"""Group Whitening: whitens the g groups of each sample against each other.

    For each sample, the input of shape (C, *spatial) is viewed as g rows of m = (C/g)·prod(spatial) values
    (row i holds channels [i·C/g, (i+1)·C/g) with all their positions). With xc the rows centred,

    .. math::
        Σ = xc·xcᵀ/m + ε·I \quad (g×g), \qquad y = W·xc,

    where W ≈ Σ^{-1/2} comes from T steps of the trace-normalised Newton iteration (see
    :func:`normdet.layers.whitening.newton_schulz_whitening`), then a per-channel affine. There are no running
    statistics: training and evaluation compute the same function of each sample.

    With ``eps=0`` this is the authors' ``GroupItN``; ``eps > 0`` (our default, as passed by mmcv's
    ``build_norm_layer``) keeps a constant group finite, where the official code returns NaN. Replacing Σ by
    its diagonal gives GroupNorm(g, C); one group is exactly GroupNorm(1, C).

    Args:
        num_features (int): C from an expected input of size (N, C, *spatial), 0 to 3 spatial dims.
        num_groups (int): g, the number of groups whitened against each other. Default: 64 (the paper's
            value everywhere). Clipped to C when larger, as in the official code.
        num_channels (int, optional): channels per group; when given, g = C // num_channels.
        T (int): Newton iterations. Default: 5 (the paper's value). Large T (about 15 or more) diverges in
            float32.
        eps (float): added to the diagonal of Σ. Default: 1e-5.
        affine (bool): learn a per-channel weight and bias. Default: True.
        whitening (str): ``'newton'`` (the paper's T-step iteration, partial whitening by design) or
            ``'zca'`` (exact Σ^{-1/2} by eigendecomposition in float64, for analysis). Default: ``'newton'``.

    Shape:
        - Input: (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W)
        - Output: same shape as input

    Examples:
        >>> gw = GroupWhitening(256, num_groups=64)
        >>> y = gw(torch.randn(2, 256, 32, 32))
    """

    _abbr_ = 'gw'

    def __init__(self, num_features: int, num_groups: int = 64, num_channels: int = None, T: int = 5,
                 eps: float = 1e-5, affine: bool = True, whitening: str = 'newton') -> None:
        super().__init__(num_features, eps=eps, affine=affine)
        if num_channels is not None:
            if not 1 <= num_channels <= num_features:
                raise ValueError(f'GW: num_channels (channels per group) must be in [1, {num_features}], '
                                 f'got {num_channels}')
            num_groups = num_features // num_channels
        if num_groups < 1:
            raise ValueError(f'GW: num_groups must be >= 1, got {num_groups}')
        num_groups = min(num_groups, num_features)
        if num_features % num_groups:
            raise ValueError(f'GW: num_groups={num_groups} must divide num_features={num_features} '
                             f'(valid: the divisors of {num_features})')
        if whitening not in ('newton', 'zca'):
            raise ValueError(f"GW: whitening must be 'newton' or 'zca', got {whitening!r}")
        if T < 0:
            raise ValueError(f'GW: T must be >= 0, got {T}')
        self.num_groups = num_groups
        self.T = T
        self.whitening = whitening
        self.reset_parameters()

    def _normalize(self, x: Tensor) -> Tensor:
        rows = self._rows(x, self.num_groups)
        xc = rows - rows.mean(-1, keepdim=True)
        sigma = covariance(xc, self.eps)
        if self.whitening == 'zca':
            wm = zca_whitening(sigma)
        else:
            wm = newton_schulz_whitening(sigma, self.T)
        return wm.bmm(xc).view_as(x)

    def extra_repr(self) -> str:
        return (f'{self.num_features}, num_groups={self.num_groups}, T={self.T}, eps={self.eps}, '
                f'affine={self.affine}, whitening={self.whitening!r}')
