"""Stochastic Whitening Batch Normalization (Zhang, Nezhadarya, Fashandi, Liu, Graham, Shah, CVPR 2021,
arXiv 2106.04413)."""
from typing import Optional

import torch
from mmengine.registry import MODELS
from torch import Tensor

from .base import BaseNormLayer, _GroupSizeMixin, _RunningStatsMixin
from .whitening import grouped_channels


@MODELS.register_module('SWBN')
class StochasticWhiteningBN(_GroupSizeMixin, _RunningStatsMixin, BaseNormLayer):
    r"""SWBN: BatchNorm standardisation followed by a whitening matrix learnt online.

    .. math::
        \hat x = \frac{x - μ_c}{\sqrt{σ^2_c + ε}}, \qquad y = W·\hat x \ \text{(per group of d channels)},
        \qquad y ← y·γ + β.

    μ, σ² are batch statistics in training and running statistics (torch's BatchNorm conventions) in
    evaluation. W (buffer ``whitening_matrix``, (C/d, d, d), starts at I, saved in the state_dict) receives no
    gradient: each training forward first takes one step on a whitening criterion for the covariance Σ of
    the batch's \hat x, then applies the new W:

    - ``criterion='kl'``: ½(tr(WΣWᵀ) − ln det(WΣWᵀ)) − d/2, whose relative (natural) gradient step is
      W ← W − lr·(WΣWᵀ − I)·W;
    - ``criterion='fro'``: ½‖I − WΣWᵀ‖_F (the norm, not its square), whose gradient step is
      W ← W − lr·(WΣWᵀ − I)·W·Σ / ‖I − WΣWᵀ‖_F;

    then, with ``symmetrize=True``, W ← (W + Wᵀ)/2. Both criteria depend on W only through WΣWᵀ, so every
    rotation QW of a whitening matrix is a fixed point too and W can drift among them; kept symmetric (as
    the TensorFlow re-implementation we follow does after every step) and started at I, W goes to Σ^{-1/2}
    (ZCA) itself. On a stationary input, repeated steps drive the covariance of the output WΣWᵀ towards I. With
    ``whitening_lr=0`` the layer is BatchNorm.

    Where the defaults come from: the paper's text was not available to us. ``momentum=0.05`` and
    ``whitening_lr=1e-5`` are the values a third-party TensorFlow re-implementation reports as the paper's
    (running-average factor 0.95, whitening learning rate 1e-5); ``group_size=64`` follows IterNorm's group
    size, since the grouping is not confirmed; ``eps`` is BatchNorm's. The paper keeps the whitening rate at a
    fixed ratio to the network's learning rate; here it is a constant the config sets. The same source
    standardises with eps 1e-8; ``eps`` stays at BatchNorm's 1e-5 so that ``whitening_lr=0`` is
    ``nn.BatchNorm2d`` exactly, and because mmcv's ``build_norm_layer`` passes 1e-5 to every norm it
    builds anyway (``dict(type='SWBN', eps=1e-8)`` gives the re-implementation's value).

    Monitoring: after each training step ``last_covariance`` holds that batch's Σ (detached, (C/d, d, d); not
    in the state_dict, None before the first step), so that :meth:`whitening_stats` can report how white the
    layer's output was; ``WhiteningMonitorHook`` logs it over training.

    Memory: the output keeps the input's layout (a contiguous input gives a contiguous output), since
    mmcv's RoIAlign reads its input's storage as if it were contiguous.

    Args:
        num_features (int): C from an expected input of size (N, C, *spatial), 0 to 3 spatial dims.
        group_size (int): d, channels per whitening group, halved until it divides C
            (:func:`~normdet.layers.base.resolve_group_size`). Default: 64.
        eps (float): added to the variance. Default: 1e-5.
        momentum (float, optional): running statistics momentum, torch's convention. Default: 0.05.
        whitening_lr (float): step size of the update of W. Default: 1e-5.
        criterion (str): ``'kl'`` or ``'fro'``. Default: ``'kl'``.
        symmetrize (bool): replace W by (W + Wᵀ)/2 after every step. Default: True.
        affine (bool): learn a per-channel weight and bias. Default: True.
        num_channels (int, optional): IterNorm's name for ``group_size``.

    Shape:
        - Input: (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W)
        - Output: same shape as input

    Examples:
        >>> swbn = StochasticWhiteningBN(256, group_size=64)
        >>> y = swbn(torch.randn(2, 256, 32, 32))  # one step on W, then y = W·x̂
        >>> swbn.whitening_matrix.shape
        torch.Size([4, 64, 64])
    """

    _abbr_ = 'swbn'
    _small_cfg_ = dict(group_size=4, whitening_lr=1e-2)
    _paper_cfg_ = dict(group_size=64)
    _choices_ = dict(criterion=('kl', 'fro'))
    _lower_bounds_ = dict(whitening_lr=0)

    def __init__(self, num_features: int, group_size: Optional[int] = None, eps: float = 1e-5,
                 momentum: float = 0.05, whitening_lr: float = 1e-5, criterion: str = 'kl', affine: bool = True, *,
                 symmetrize: bool = True, num_channels: Optional[int] = None) -> None:
        super().__init__(num_features, eps=eps, affine=affine)
        self._init_group_size(group_size, num_channels, default=64)
        self.momentum = momentum
        self.whitening_lr = whitening_lr
        self.criterion = criterion
        self.symmetrize = symmetrize
        self._register_running_stats(num_features)
        self.register_buffer('whitening_matrix', torch.eye(self.group_size).repeat(self.num_groups, 1, 1))
        self.last_covariance: Optional[Tensor] = None

    def reset_running_stats(self) -> None:
        super().reset_running_stats()
        self.last_covariance = None
        self.whitening_matrix.copy_(torch.eye(self.group_size).expand_as(self.whitening_matrix))

    @torch.no_grad()
    def _whitening_step(self, sigma: Tensor) -> None:
        w = self.whitening_matrix.to(sigma.dtype)
        eye = torch.eye(sigma.size(-1), dtype=sigma.dtype, device=sigma.device)
        residual = w @ sigma @ w.transpose(1, 2) - eye
        step = residual @ w
        if self.criterion == 'fro':
            norm = torch.linalg.matrix_norm(residual).clamp_min(torch.finfo(sigma.dtype).tiny)
            step = step @ sigma / norm.view(-1, 1, 1)
        w = w - self.whitening_lr * step
        if self.symmetrize:
            w = (w + w.transpose(1, 2)) / 2
        self.whitening_matrix.copy_(w)

    def _normalize(self, x: Tensor) -> Tensor:
        # (N, C/d, d, L): each sample's groups as (d, L) blocks, so W applies per sample as a batched matmul
        # whose output is already in the input's contiguous layout.
        x_hat = grouped_channels(self._standardize(x, dims=(0, ) + tuple(range(2, x.dim()))), self.group_size)
        if self.training and self.whitening_lr > 0:
            self.last_covariance = self._group_covariance(x_hat.detach())
            self._whitening_step(self.last_covariance)
        # A copy: the next training forward updates the buffer in place while this graph may still need W.
        w = self.whitening_matrix.to(x.dtype, copy=True)
        return torch.matmul(w, x_hat).view(x.shape)

    @staticmethod
    def _group_covariance(x_hat: Tensor) -> Tensor:
        """Σ of each group over the batch and positions, (C/d, d, d), from (N, C/d, d, L) rows."""
        xc = x_hat - x_hat.mean(dim=(0, 3), keepdim=True)
        return torch.matmul(xc, xc.transpose(-1, -2)).sum(0) / (x_hat.size(0) * x_hat.size(3))

    @torch.no_grad()
    def whitening_stats(self) -> Optional[dict]:
        r"""How white the last training batch left the output, per group: with M = WΣWᵀ (W the matrix this
        layer applied, Σ = ``last_covariance``), ``kl`` = ½(tr M − ln det M) − d/2 and ``fro`` =
        ½‖I − M‖_F (the two criteria, 0 when M = I; ``kl`` is inf where M is singular), and ``cond`` = the
        condition number of W (2-norm). Float64 tensors of shape (C/d,); None before the first step.

        Example::

            >>> swbn = StochasticWhiteningBN(8, group_size=4, whitening_lr=0.1)
            >>> _ = swbn(torch.randn(16, 8, 5, 5))
            >>> sorted(swbn.whitening_stats())
            ['cond', 'fro', 'kl']
        """
        if self.last_covariance is None:
            return None
        w = self.whitening_matrix.double()
        m = w @ self.last_covariance.double() @ w.transpose(1, 2)
        eye = torch.eye(m.size(-1), dtype=m.dtype, device=m.device)
        sign, logdet = torch.linalg.slogdet(m)
        kl = (m.diagonal(dim1=1, dim2=2).sum(-1) - logdet) / 2 - m.size(-1) / 2
        kl = torch.where(sign > 0, kl, torch.full_like(kl, float('inf')))
        return dict(kl=kl, fro=torch.linalg.matrix_norm(eye - m) / 2, cond=torch.linalg.cond(w))

    def extra_repr(self) -> str:
        return (f'{self.num_features}, group_size={self.group_size}, num_groups={self.num_groups}, '
                f'eps={self.eps}, momentum={self.momentum}, whitening_lr={self.whitening_lr}, '
                f'criterion={self.criterion!r}, symmetrize={self.symmetrize}, affine={self.affine}')
