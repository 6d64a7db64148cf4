"""IterNorm, iterative batch whitening (Huang, Zhou, Zhu, Liu, Shao, CVPR 2019, arXiv 1904.03441)."""
import torch
from mmengine.registry import MODELS
from torch import Tensor

from .base import _NormBase, channel_groups
from .whitening import covariance, newton_schulz_whitening


def channels_as_rows(x: Tensor, group_size: int) -> Tensor:
    """(N, C, *spatial) -> (C/d, d, N·prod(spatial)): each group's channels as rows, batch and positions as
    columns."""
    return x.transpose(0, 1).reshape(x.size(1) // group_size, group_size, -1)


def rows_as_channels(rows: Tensor, like: Tensor) -> Tensor:
    """Inverse of :func:`channels_as_rows` for an input shaped like `like`."""
    shape = (like.size(1), like.size(0)) + tuple(like.shape[2:])
    return rows.reshape(shape).transpose(0, 1)


@MODELS.register_module('ItN')
class IterNorm(_NormBase):
    r"""IterNorm: whitens groups of d channels over the batch with T Newton iterations.

    For each group of d channels, with m = N·prod(spatial) columns and xc the centred rows,

    .. math::
        Σ = xc·xcᵀ/m + ε·I \quad (d×d), \qquad y = W·xc, \quad W = P_T/\sqrt{tr(Σ)},

    from the trace-normalised Newton iteration (:func:`normdet.layers.whitening.newton_schulz_whitening`),
    then a per-channel affine. In training, running_mean (g, d, 1) and the running whitening matrix
    running_wm (g, d, d) are updated with ``momentum`` (torch's convention: the weight of the new batch);
    evaluation uses them. d = 1 is BatchNorm in training.

    Args:
        num_features (int): C from an expected input of size (N, C, *spatial), 0 to 3 spatial dims.
        num_channels (int): d, channels per group. Halved until it divides C, as in the official code.
            Default: 64 (the authors' advice).
        T (int): Newton iterations. Default: 5.
        eps (float): added to the diagonal of Σ. Default: 1e-5.
        momentum (float): weight of the newest batch in the running statistics. Default: 0.1.
        affine (bool): learn a per-channel weight and bias. Default: True.

    Shape:
        - Input: (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W)
        - Output: same shape as input
    """

    _abbr_ = 'itn'

    def __init__(self, num_features: int, num_channels: int = 64, T: int = 5, eps: float = 1e-5,
                 momentum: float = 0.1, affine: bool = True) -> None:
        super().__init__(num_features, eps=eps, affine=affine)
        if T < 0:
            raise ValueError(f'ItN: T must be >= 0, got {T}')
        self.num_channels = channel_groups(num_features, num_channels)
        self.num_groups = num_features // self.num_channels
        self.T = T
        self.momentum = momentum
        d = self.num_channels
        self.register_buffer('running_mean', torch.zeros(self.num_groups, d, 1))
        self.register_buffer('running_wm', torch.eye(d).repeat(self.num_groups, 1, 1))
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        self.running_mean.zero_()
        self.running_wm.copy_(torch.eye(self.num_channels).expand_as(self.running_wm))

    def _normalize(self, x: Tensor) -> Tensor:
        rows = channels_as_rows(x, self.num_channels)
        if self.training:
            if rows.size(-1) < 2:
                raise ValueError(f'ItN needs more than 1 value per channel in training, got input of shape '
                                 f'{tuple(x.shape)}')
            mean = rows.mean(-1, keepdim=True)
            xc = rows - mean
            wm = newton_schulz_whitening(covariance(xc, self.eps), self.T)
            with torch.no_grad():
                self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), self.momentum)
                self.running_wm.lerp_(wm.detach().to(self.running_wm.dtype), self.momentum)
        else:
            xc = rows - self.running_mean.to(x.dtype)
            wm = self.running_wm.to(x.dtype)
        return rows_as_channels(wm.bmm(xc), x)

    def extra_repr(self) -> str:
        return (f'{self.num_features}, num_channels={self.num_channels}, num_groups={self.num_groups}, T={self.T}, '
                f'eps={self.eps}, momentum={self.momentum}, affine={self.affine}')
