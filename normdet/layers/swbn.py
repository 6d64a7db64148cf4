"""Stochastic Whitening Batch Normalization (Zhang, Nezhadarya, Fashandi, Liu, Graham, Shah, CVPR 2021,
arXiv 2106.04413)."""
import torch
from mmengine.registry import MODELS
from torch import Tensor

from .base import _NormBase, _RunningStatsMixin, channel_groups, group_size_problems
from .itn import channels_as_rows, rows_as_channels
from .whitening import covariance


@MODELS.register_module('SWBN')
class StochasticWhiteningBN(_RunningStatsMixin, _NormBase):
    r"""SWBN: BatchNorm standardisation followed by a whitening matrix learnt online.

    .. math::
        \hat x = \frac{x - μ_c}{\sqrt{σ^2_c + ε}}, \qquad y = W·\hat x \ \text{(per group of d channels)},
        \qquad y ← y·γ + β.

    μ, σ² are batch statistics in training and running statistics (torch's BatchNorm conventions) in
    evaluation. W (buffer ``whitening_matrix``, (g, d, d), starts at I, saved in the state_dict) receives no
    gradient: each training forward first takes one step on a whitening criterion for the covariance Σ of
    the batch's \hat x, then applies the new W:

    - ``criterion='kl'``: ½(tr(WΣWᵀ) − ln det(WΣWᵀ)) − d/2, whose relative (natural) gradient step is
      W ← W − lr·(WΣWᵀ − I)·W;
    - ``criterion='fro'``: ½‖I − WΣWᵀ‖²_F, step W ← W − lr·(WΣWᵀ − I)·W·Σ / ‖I − WΣWᵀ‖_F.

    On a stationary input, repeated steps drive the covariance of the output WΣWᵀ towards I. With
    ``whitening_lr=0`` the layer is BatchNorm.

    Where the defaults come from: the paper's text was not available to us. ``momentum=0.05`` and
    ``whitening_lr=1e-5`` are the values a third-party TensorFlow re-implementation reports as the paper's
    (running-average factor 0.95, whitening learning rate 1e-5); ``num_channels=64`` follows IterNorm's group
    size, since the grouping is not confirmed; ``eps`` is BatchNorm's. The paper keeps the whitening rate at a
    fixed ratio to the network's learning rate; here it is a constant the config sets.

    Args:
        num_features (int): C from an expected input of size (N, C, *spatial), 0 to 3 spatial dims.
        num_channels (int): d, channels per whitening group, halved until it divides C. Default: 64.
        eps (float): added to the variance. Default: 1e-5.
        momentum (float, optional): running statistics momentum, torch's convention. Default: 0.05.
        whitening_lr (float): step size of the update of W. Default: 1e-5.
        criterion (str): ``'kl'`` or ``'fro'``. Default: ``'kl'``.
        affine (bool): learn a per-channel weight and bias. Default: True.

    Shape:
        - Input: (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W)
        - Output: same shape as input
    """

    _abbr_ = 'swbn'

    def __init__(self, num_features: int, num_channels: int = 64, eps: float = 1e-5, momentum: float = 0.05,
                 whitening_lr: float = 1e-5, criterion: str = 'kl', affine: bool = True) -> None:
        super().__init__(num_features, eps=eps, affine=affine)
        self._requested_channels = num_channels
        self.num_channels = channel_groups(num_features, max(num_channels, 1))
        self.num_groups = num_features // self.num_channels
        self.momentum = momentum
        self.whitening_lr = whitening_lr
        self.criterion = criterion
        self._register_running_stats(num_features)
        self.register_buffer('whitening_matrix', torch.eye(self.num_channels).repeat(self.num_groups, 1, 1))
        self.reset_parameters()
        self._check_config()

    def config_problems(self) -> list:
        problems = super().config_problems() + group_size_problems(self._requested_channels)
        if self.criterion not in ('kl', 'fro'):
            problems.append(f"criterion={self.criterion!r} (valid: 'kl', 'fro')")
        if self.whitening_lr < 0:
            problems.append(f'whitening_lr={self.whitening_lr} (valid: >= 0)')
        return problems

    def reset_running_stats(self) -> None:
        super().reset_running_stats()
        self.whitening_matrix.copy_(torch.eye(self.num_channels).expand_as(self.whitening_matrix))

    @torch.no_grad()
    def _whitening_step(self, sigma: Tensor) -> None:
        w = self.whitening_matrix.to(sigma.dtype)
        eye = torch.eye(sigma.size(-1), dtype=sigma.dtype, device=sigma.device)
        residual = w @ sigma @ w.transpose(1, 2) - eye
        step = residual @ w
        if self.criterion == 'fro':
            norm = torch.linalg.matrix_norm(residual).clamp_min(torch.finfo(sigma.dtype).tiny)
            step = step @ sigma / norm.view(-1, 1, 1)
        self.whitening_matrix.sub_((self.whitening_lr * step).to(self.whitening_matrix.dtype))

    def _normalize(self, x: Tensor) -> Tensor:
        x_hat = channels_as_rows(self._standardize(x, dims=(0, ) + tuple(range(2, x.dim()))),
                                 self.num_channels)
        if self.training and self.whitening_lr > 0:
            self._whitening_step(covariance(x_hat.detach() - x_hat.detach().mean(-1, keepdim=True)))
        # A copy: the next training forward updates the buffer in place while this graph may still need W.
        w = self.whitening_matrix.to(x.dtype, copy=True)
        return rows_as_channels(w.bmm(x_hat), x)

    def extra_repr(self) -> str:
        return (f'{self.num_features}, num_channels={self.num_channels}, num_groups={self.num_groups}, '
                f'eps={self.eps}, momentum={self.momentum}, whitening_lr={self.whitening_lr}, '
                f'criterion={self.criterion!r}, affine={self.affine}')
