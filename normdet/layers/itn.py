"""IterNorm, iterative batch whitening (Huang, Zhou, Zhu, Liu, Shao, CVPR 2019, arXiv 1904.03441)."""
from typing import Optional

import torch
from mmengine.registry import MODELS
from torch import Tensor
from torch.autograd.function import once_differentiable

from .base import BaseNormLayer, _GroupSizeMixin
from .whitening import (blocked_matmul_sum, grouped_affine_backward, grouped_channels, newton_schulz_whitening,
                        newton_schulz_whitening_backward, sum_over_samples)


class IterNormFunction(torch.autograd.Function):
    r"""IterNorm in training: z = γ ⊙ (W·xc) + β per group of d channels, with the analytic backward.

    Layout: the input (N, C, *spatial) viewed, without a copy, as (N, G, d, L): G groups of d channels, L
    positions; a group's m = N·L columns are the N contiguous (d, L) blocks, so every matmul is a batch over
    samples of ordinary matrices and the (C, N·L) transpose is never made. γ, β are per row here, so the
    affine folds into the matmuls: z = β + (diag(γ)·W)·xc, and in the backward dŷ = γ ⊙ dz becomes
    Wᵀ·diag(γ).

    Forward: μ (G, d, 1), xc = x − μ, Σ = Σ_n xc_n·xc_nᵀ/m + εI, W from the Newton iteration, and the
    output written over xc block by block (:func:`~normdet.layers.whitening.blocked_matmul_sum`).
    Backward, with r = the per-channel sums of dz:

    .. math::
        K = Σ_n dz_n·x_nᵀ − r·μᵀ, \quad dW = diag(γ)·K, \quad dγ_i = Σ_j W_{ij} K_{ij}, \quad dβ = r,

        dx_n = Wᵀdiag(γ)·dz_n + S·x_n − (S·μ + Wᵀ·(γ ⊙ r)/m)·1ᵀ, \quad S = (dΣ + dΣᵀ)/m.

    Saved: the input, μ, Σ and W (the Newton iterates are recomputed from Σ). Returns z and, without
    gradient, μ and W for the running statistics. Double backward is not supported.
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Optional[Tensor], bias: Optional[Tensor], group_size: int,
                iterations: int, eps: float):
        x4 = grouped_channels(x, group_size)
        n, groups, d, length = x4.shape
        m = n * length
        mean = x4.mean((0, 3)).unsqueeze(-1)
        # xc, whitened in place below; allocated in the input's shape and returned as is (see GW's forward).
        result = torch.empty(x.shape, dtype=x.dtype, device=x.device)
        out = torch.sub(x4, mean, out=result.view(x4.shape))
        sigma = sum_over_samples(out, out).div_(m)
        sigma.diagonal(dim1=-2, dim2=-1).add_(eps)
        wm = newton_schulz_whitening(sigma, iterations)
        wm_affine = wm if weight is None else wm * weight.view(groups, d, 1)
        blocked_matmul_sum(out, [(wm_affine.unsqueeze(0), out)], None if bias is None else bias.view(1, groups, d, 1))
        ctx.iterations = iterations
        ctx.input_shape = x.shape
        ctx.save_for_backward(x4, mean, sigma, wm, weight)
        ctx.mark_non_differentiable(mean, wm)
        return result, mean, wm

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor, _grad_mean, _grad_wm):
        x4, mean, sigma, wm, weight = ctx.saved_tensors
        grad_x = grad_weight = grad_bias = None
        with torch.autocast(device_type=grad_out.device.type, enabled=False):
            n, groups, d, length = x4.shape
            m = n * length
            grad4 = grad_out.reshape(x4.shape)
            sums, cross, gamma, grad_weight, grad_bias = grouped_affine_backward(grad4, x4, mean, wm, weight)
            grad_weight = grad_weight if ctx.needs_input_grad[1] else None
            grad_bias = grad_bias if ctx.needs_input_grad[2] else None
            if ctx.needs_input_grad[0]:
                grad_sigma = newton_schulz_whitening_backward(sigma, ctx.iterations, gamma * cross)
                sym = (grad_sigma + grad_sigma.transpose(1, 2)).div_(m)
                wm_t = wm.transpose(1, 2)
                shift = torch.bmm(sym, mean).baddbmm_(wm_t, gamma * sums, alpha=1.0 / m).neg_()
                grad_x = torch.empty(ctx.input_shape, dtype=x4.dtype, device=x4.device)
                grad_x4 = grad_x.view(x4.shape)
                blocked_matmul_sum(grad_x4, [(sym.unsqueeze(0), x4), ((wm_t * gamma.transpose(1, 2)).unsqueeze(0), grad4)],
                                   shift.unsqueeze(0))
        return grad_x, grad_weight, grad_bias, None, None, None


@MODELS.register_module('ItN')
class IterNorm(_GroupSizeMixin, BaseNormLayer):
    r"""IterNorm: whitens groups of d channels over the batch with T Newton iterations.

    For each of the C/d groups of d = ``group_size`` channels, with m = N·prod(spatial) columns and xc the
    centred rows,

    .. math::
        Σ = xc·xcᵀ/m + ε·I \quad (d×d), \qquad y = W·xc, \quad W = P_T/\sqrt{tr(Σ)},

    from the trace-normalised Newton iteration (:func:`normdet.layers.whitening.newton_schulz_whitening`),
    then a per-channel affine. In training, running_mean (C/d, d, 1) and the running whitening matrix
    running_wm (C/d, d, d) are updated with ``momentum`` (torch's convention: the weight of the new batch);
    evaluation uses them. d = 1 is BatchNorm in training.

    Args:
        num_features (int): C from an expected input of size (N, C, *spatial), 0 to 3 spatial dims.
        group_size (int): d, channels per group. Halved until it divides C, as in the official code
            (:func:`~normdet.layers.base.resolve_group_size`). Default: 64 (the authors' advice).
        T (int): Newton iterations. Default: 5.
        eps (float): added to the diagonal of Σ. Default: 1e-5.
        momentum (float): weight of the newest batch in the running statistics. Default: 0.1.
        affine (bool): learn a per-channel weight and bias. Default: True.
        num_channels (int, optional): the authors' name for ``group_size``.

    Shape:
        - Input: (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W)
        - Output: same shape as input

    Examples:
        >>> itn = IterNorm(256, group_size=64)
        >>> y = itn(torch.randn(2, 256, 32, 32))
        >>> IterNorm(96, group_size=64).group_size
        32
    """

    _abbr_ = 'itn'
    _small_cfg_ = dict(group_size=4)
    _paper_cfg_ = dict(group_size=64)
    _lower_bounds_ = dict(T=0)
    whitens_each_sample = False
    # The affine is fused into the whitening matmul (see IterNormFunction).
    _fuses_affine = True

    def __init__(self, num_features: int, group_size: Optional[int] = None, T: int = 5, eps: float = 1e-5,
                 momentum: float = 0.1, affine: bool = True, *, num_channels: Optional[int] = None) -> None:
        super().__init__(num_features, eps=eps, affine=affine)
        self._init_group_size(group_size, num_channels, default=64)
        self.T = T
        self.momentum = momentum
        d = self.group_size
        self.register_buffer('running_mean', torch.zeros(self.num_groups, d, 1))
        self.register_buffer('running_wm', torch.eye(d).repeat(self.num_groups, 1, 1))

    @property
    def whitened_dim(self) -> int:
        return self.group_size

    def reset_running_stats(self) -> None:
        self.running_mean.zero_()
        self.running_wm.copy_(torch.eye(self.group_size).expand_as(self.running_wm))

    def _normalize(self, x: Tensor) -> Tensor:
        weight, bias = self._affine_params(x.dtype)
        if self.training:
            if x.numel() // x.size(1) < 2:
                raise ValueError(f'ItN needs more than 1 value per channel in training, got input of shape '
                                 f'{tuple(x.shape)}')
            y, mean, wm = IterNormFunction.apply(x, weight, bias, self.group_size, self.T, self.eps)
            with torch.no_grad():
                self.running_mean.lerp_(mean.to(self.running_mean.dtype), self.momentum)
                self.running_wm.lerp_(wm.to(self.running_wm.dtype), self.momentum)
            return y
        # Evaluation is one affine map per group: z = (diag(γ)·W)·x + β − diag(γ)·W·μ.
        wm = self.running_wm.to(x.dtype)
        if self.affine:
            wm = wm * weight.view(self.num_groups, -1, 1)
        shift = -torch.bmm(wm, self.running_mean.to(x.dtype))
        if self.affine:
            shift = shift + bias.view(self.num_groups, -1, 1)
        return torch.add(torch.matmul(wm, grouped_channels(x, self.group_size)), shift).view(x.shape)

    def extra_repr(self) -> str:
        return (f'{self.num_features}, group_size={self.group_size}, num_groups={self.num_groups}, T={self.T}, '
                f'eps={self.eps}, momentum={self.momentum}, affine={self.affine}')
