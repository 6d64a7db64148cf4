"""Stochastic Whitening Batch Normalization (Zhang, Nezhadarya, Fashandi, Liu, Graham, Shah, CVPR 2021,
arXiv 2106.04413)."""
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.registry import MODELS
from torch import Tensor
from torch.autograd.function import once_differentiable

from .base import BaseNormLayer, _GroupSizeMixin, _RunningStatsMixin
from .whitening import (blocked_matmul_sum, channel_moments, grouped_affine_backward, grouped_channels,
                        sum_over_samples)


class StochasticWhiteningFunction(torch.autograd.Function):
    r"""SWBN in training: z = γ ⊙ (W·x̂) + β per group of d channels, x̂ = (x − μ)·r the batch-standardised
    input (r = 1/√(σ² + ε) per channel), with the analytic backward. W receives no gradient: with
    ``whitening_lr`` > 0 it is the given matrix after one :func:`whitening_step` on the batch covariance
    Σ = Σ_n x̂_n·x̂_nᵀ/m of x̂, otherwise the given matrix.

    Layout as IterNorm's: (N, G, d, L) views of the input. Forward: per-channel moments in one fused pass,
    x̂ by torch's evaluation-form BatchNorm kernel into the output's memory, Σ (one matmul over the input's
    size, skipped without a step), then z written over x̂ block by block
    (:func:`~normdet.layers.whitening.blocked_matmul_sum`).

    Backward, with r_dz = the per-channel sums of dz and K = Σ_n dz_n·x̂_nᵀ = (Σ_n dz_n·x_nᵀ − r_dz·μᵀ)·diag(r):

    .. math::
        dγ_i = Σ_j W_{ij} K_{ij}, \quad dβ = r_{dz}, \quad
        dx = diag(r)·Wᵀ·diag(γ)·dz − r²⊙b/m ⊙ (x − μ) − r⊙a/m, \quad a = Wᵀ(γ ⊙ r_{dz}),\ b_j = Σ_i γ_i W_{ij} K_{ij},

    BatchNorm's backward of dx̂ = Wᵀ·diag(γ)·dz with its two means read off K and r_dz: the matmuls K and dx,
    and one elementwise pass. Saved: the input and (C,) and (G, d, d) tensors; not x̂, not the output.
    Returns z and, not differentiable, μ and σ² (biased) for the running statistics, the W applied and Σ
    (empty without a step).
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Optional[Tensor], bias: Optional[Tensor], wm: Tensor, group_size: int,
                eps: float, whitening_lr: float, frobenius: bool, symmetrize: bool):
        x4 = grouped_channels(x, group_size)
        n, groups, d, length = x4.shape
        count, mean, m2 = channel_moments(x)
        var = m2 / count
        # x̂, whitened in place below; allocated in the input's shape and returned as is (see GW's forward).
        result = F.batch_norm(x, mean, var, None, None, False, 0.0, eps)
        out = result.view(x4.shape)
        sigma = out.new_empty(0)
        if whitening_lr > 0:
            sigma = sum_over_samples(out, out).div_(count)
            wm = whitening_step(wm, sigma, whitening_lr, frobenius, symmetrize)
        wm_affine = wm if weight is None else wm * weight.view(groups, d, 1)
        blocked_matmul_sum(out, [(wm_affine.unsqueeze(0), out)], None if bias is None else bias.view(1, groups, d, 1))
        ctx.eps = eps
        ctx.save_for_backward(x4, mean, var, wm, weight)
        ctx.mark_non_differentiable(mean, var, wm, sigma)
        return result, mean, var, wm, sigma

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor, *_):
        x4, mean, var, wm, weight = ctx.saved_tensors
        grad_x = grad_weight = grad_bias = None
        n, groups, d, length = x4.shape
        m = n * length
        grad4 = grad_out.reshape(x4.shape)
        invstd = torch.rsqrt(var + ctx.eps).view(groups, 1, d)
        sums, cross, gamma, grad_weight, grad_bias = grouped_affine_backward(grad4, x4, mean, wm, weight, invstd)
        grad_weight = grad_weight if ctx.needs_input_grad[1] else None
        grad_bias = grad_bias if ctx.needs_input_grad[2] else None
        if ctx.needs_input_grad[0]:
            wm_gamma = wm * gamma  # diag(γ)·W
            a = torch.bmm(wm_gamma.transpose(1, 2), sums).view(groups, d)  # Wᵀ(γ ⊙ r_dz)
            b = (wm_gamma * cross).sum(1)  # b_j = Σ_i γ_i W_ij K_ij
            invstd = invstd.view(groups, d)
            slope = -invstd * invstd * b / m  # on x − μ
            shift = (-slope * mean.view(groups, d) - invstd * a / m).view(1, groups, d, 1)
            grad_x = torch.empty(x4.shape, dtype=x4.dtype, device=x4.device)
            blocked_matmul_sum(grad_x, [((wm_gamma.transpose(1, 2) * invstd.unsqueeze(-1)).unsqueeze(0), grad4)], shift)
            grad_x.addcmul_(x4, slope.view(1, groups, d, 1))
            grad_x = grad_x.view(grad_out.shape)
        return grad_x, grad_weight, grad_bias, None, None, None, None, None, None


def whitening_step(wm: Tensor, sigma: Tensor, lr: float, frobenius: bool, symmetrize: bool) -> Tensor:
    """W after one step of size `lr` on SWBN's whitening criterion for the covariances `sigma`, (G, d, d) both
    (see :class:`StochasticWhiteningBN`): the KL criterion's natural-gradient step, or with `frobenius` the
    Frobenius criterion's gradient step; then (W + Wᵀ)/2 with `symmetrize`."""
    eye = torch.eye(sigma.size(-1), dtype=sigma.dtype, device=sigma.device)
    residual = wm @ sigma @ wm.transpose(1, 2) - eye
    step = residual @ wm
    if frobenius:
        norm = torch.linalg.matrix_norm(residual).clamp_min(torch.finfo(sigma.dtype).tiny)
        step = step @ sigma / norm.view(-1, 1, 1)
    wm = wm - lr * step
    if symmetrize:
        wm = (wm + wm.transpose(1, 2)) / 2
    return wm


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

    # The affine is fused into the whitening matmul (StochasticWhiteningFunction), also in evaluation.
    _fuses_affine = True

    def _normalize(self, x: Tensor) -> Tensor:
        weight, bias = self._affine_params(x.dtype)
        if self._uses_batch_stats():
            values = x.numel() // x.size(1)
            self._check_values_per_statistic(x, values)
            # A copy: the next training forward updates the buffer in place while this graph may still need W.
            wm = self.whitening_matrix.to(x.dtype, copy=True)
            lr = self.whitening_lr if self.training else 0.0
            y, mean, var, wm, sigma = StochasticWhiteningFunction.apply(
                x.contiguous(), weight, bias, wm, self.group_size, self.eps, lr, self.criterion == 'fro',
                self.symmetrize)
            if lr > 0:
                self.last_covariance = sigma
                with torch.no_grad():
                    self.whitening_matrix.copy_(wm)
            self._update_running_stats(mean, var, values)
            return y
        # Evaluation: BatchNorm with the running statistics, then W (as a (N, C/d, d, L) batched matmul whose
        # output is already in the input's contiguous layout) with the affine fused in.
        x_hat = grouped_channels(F.batch_norm(x.contiguous(), self.running_mean.to(x.dtype),
                                              self.running_var.to(x.dtype), None, None, False, 0.0, self.eps),
                                 self.group_size)
        wm = self.whitening_matrix.to(x.dtype, copy=True)
        if weight is not None:
            wm = wm * weight.view(self.num_groups, self.group_size, 1)
        y = torch.matmul(wm, x_hat)
        if bias is not None:
            y = y + bias.view(1, self.num_groups, self.group_size, 1)
        return y.view(x.shape)

    @torch.no_grad()
    def whitening_stats(self) -> Optional[dict]:
        r"""How white the last training batch left the output, per group: with M = WΣWᵀ (W the matrix this
        layer applied, Σ = ``last_covariance``), ``kl`` = ½(tr M − ln det M) − d/2 and ``fro`` =
        ½‖I − M‖_F (the two criteria, 0 when M = I; ``kl`` is inf where M is singular to the precision of
        Σ), and ``cond`` = the condition number of W (2-norm). Float64 tensors of shape (C/d,); None before
        the first step.

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
        evals = torch.linalg.eigvalsh((m + m.transpose(1, 2)) / 2)
        # Singular to the precision Σ was computed in: its rounding leaves tiny eigenvalues of either sign.
        singular = evals[:, 0] <= m.size(-1) * torch.finfo(self.last_covariance.dtype).eps * evals[:, -1]
        kl = (evals.sum(-1) - evals.clamp_min(torch.finfo(m.dtype).tiny).log().sum(-1)) / 2 - m.size(-1) / 2
        kl = torch.where(singular, torch.full_like(kl, float('inf')), kl)
        return dict(kl=kl, fro=torch.linalg.matrix_norm(eye - m) / 2, cond=torch.linalg.cond(w))

    def extra_repr(self) -> str:
        return (f'{self.num_features}, group_size={self.group_size}, num_groups={self.num_groups}, '
                f'eps={self.eps}, momentum={self.momentum}, whitening_lr={self.whitening_lr}, '
                f'criterion={self.criterion!r}, symmetrize={self.symmetrize}, affine={self.affine}')
