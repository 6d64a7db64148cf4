"""Group Whitening (Huang, Zhou, Liu, Zhu, Shao, CVPR 2021, arXiv 2009.13333)."""
from typing import Optional

import torch
from mmengine.registry import MODELS
from torch import Tensor
from torch.autograd.function import once_differentiable

from .base import BaseNormLayer, _GroupSizeMixin
from .whitening import (blocked_matmul_sum, channel_slots, covariance, matmul_4d, newton_schulz_whitening,
                        newton_schulz_whitening_backward, sample_rows, zca_whitening)


class GroupWhiteningFunction(torch.autograd.Function):
    r"""z = γ ⊙ (W·xc) + β per sample, with the analytic backward.

    Layout: the input (N, C, *spatial) as rows (N, g, m), m = s·L with s = C/g channels per group and L
    positions, so that a row holds s channel slots of L values; γ, β are per channel, i.e. per (row, slot).

    Forward, per sample: μ = row means, xc = x − μ, Σ = xc·xcᵀ/m + εI, W from the Newton iteration, and
    for each slot k z_k = β_k + (diag(γ_k)·W)·xc_k, written over xc block by block (see
    :func:`~normdet.layers.whitening.blocked_matmul_sum`): the output is the only full-size allocation.

    Backward, with dz given and r the per-channel sums of dz. The centred input is not kept: products
    with it are taken with x and corrected by rank-1 terms in μ.

    .. math::
        K_k = dz_k·x_kᵀ − r_k·μᵀ, \quad dW = Σ_k diag(γ_k)·K_k, \quad dγ_{ik} = Σ_n Σ_j W_{ij}(K_k)_{ij},
        \quad dβ = Σ_n r,

        dx = Wᵀ·(γ ⊙ dz) + S·x − (S·μ + Wᵀ·\bar{dŷ})·1ᵀ, \quad S = (dΣ + dΣᵀ)/m,

    with dΣ from :func:`~normdet.layers.whitening.newton_schulz_whitening_backward` and \bar{dŷ} the row
    means of γ ⊙ dz (the centring's gradient; the Σ term has none because xc has zero row means). In all,
    the five matmuls over the input's size that the method needs (Σ, z, K, and the two halves of dx), plus
    the mean and centring passes forward and one reduction of dz backward.

    Saved for backward: the input (the one full-size tensor GN and BN keep too), μ, Σ and W; not the centred copy,
    not the output (a following in-place ReLU would invalidate it), not the Newton iterates (recomputed
    from Σ on (g, g) matrices). Double backward is not supported.
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Optional[Tensor], bias: Optional[Tensor], groups: int, iterations: int,
                eps: float) -> Tensor:
        rows = sample_rows(x, groups)
        slots = x.size(1) // groups
        mean = rows.mean(-1, keepdim=True)
        # xc, whitened in place below. Allocated in the input's shape and returned as is: a view made here
        # could not be modified in place by the next layer (an in-place ReLU).
        result = torch.empty(x.shape, dtype=x.dtype, device=x.device)
        out = torch.sub(rows, mean, out=result.view(rows.shape))
        sigma = covariance(out, eps)
        wm = newton_schulz_whitening(sigma, iterations)
        if weight is None:
            xc = out.unsqueeze(1)
            blocked_matmul_sum(xc, [(wm.unsqueeze(1), xc)])
        else:
            weight, bias = weight.view(groups, slots), bias.view(groups, slots)
            # Slot k of every row: an (N, s, g, L) view; diag(γ_k)·W and β_k per slot.
            xc = channel_slots(out, slots).transpose(1, 2)
            blocked_matmul_sum(xc, [(wm.unsqueeze(1) * weight.t().unsqueeze(-1), xc)], bias.t()[None, :, :, None])
        ctx.iterations = iterations
        ctx.input_shape = x.shape
        ctx.save_for_backward(rows, mean, sigma, wm, weight)
        return result

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        rows, mean, sigma, wm, weight = ctx.saved_tensors
        grad_x = grad_weight = grad_bias = None
        with torch.autocast(device_type=grad_out.device.type, enabled=False):
            n, groups, m = rows.shape
            grad_rows = grad_out.reshape(n, groups, m)
            if weight is None:
                weight = grad_rows.new_ones(groups, 1)
            slots = weight.size(1)
            # Slot-major views (N, s, g, L) of dz and x; γ, β as (s, g).
            grad4 = channel_slots(grad_rows, slots).transpose(1, 2)
            x4 = channel_slots(rows, slots).transpose(1, 2)
            gamma = weight.t()
            sums = grad4.sum(-1, keepdim=True)  # r: (N, s, g, 1)
            cross = matmul_4d(grad4, x4.transpose(2, 3), out=grad4.new_empty(n, slots, groups, groups))
            cross.sub_(sums * mean.transpose(1, 2).unsqueeze(1))  # K_k = dz_k·x_kᵀ − r_k·μᵀ
            if ctx.needs_input_grad[1]:
                grad_weight = (wm.unsqueeze(1) * cross).sum((0, 3)).t().reshape(-1)
            if ctx.needs_input_grad[2]:
                grad_bias = sums.sum(0).squeeze(-1).t().reshape(-1)
            if ctx.needs_input_grad[0]:
                grad_wm = cross.mul_(gamma.unsqueeze(-1)).sum(1)
                del cross  # (N, s, g, g): as large as the input where maps are smaller than g (RoIs)
                grad_sigma = newton_schulz_whitening_backward(sigma, ctx.iterations, grad_wm)
                sym = (grad_sigma + grad_sigma.transpose(1, 2)).div_(m)
                grad_mean = (sums.squeeze(-1) * gamma).sum(1).unsqueeze(-1).div_(m)  # row means of γ ⊙ dz
                wm_t = wm.transpose(1, 2)
                shift = torch.bmm(sym, mean).baddbmm_(wm_t, grad_mean).neg_()
                grad_x = torch.empty(ctx.input_shape, dtype=rows.dtype, device=rows.device)
                # dx_k = S·x_k + Wᵀ·diag(γ_k)·dz_k + shift, slot by slot
                blocked_matmul_sum(channel_slots(grad_x.view(rows.shape), slots).transpose(1, 2),
                                   [(sym.unsqueeze(1), x4), (wm_t.unsqueeze(1) * gamma.unsqueeze(1), grad4)],
                                   shift.unsqueeze(1))
        return grad_x, grad_weight, grad_bias, None, None, None


@MODELS.register_module('GW')
class GroupWhitening(_GroupSizeMixin, BaseNormLayer):
    r"""Group Whitening: whitens the g groups of each sample against each other.

    For each sample, the input of shape (C, *spatial) is viewed as g rows of m = (C/g)·prod(spatial) values
    (row i holds the ``group_size`` = C/g channels [i·C/g, (i+1)·C/g) with all their positions). With xc
    the rows centred,

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
        group_size (int, optional): channels per group instead of ``num_groups``: g = C // group_size.
        T (int): Newton iterations. Default: 5 (the paper's value). Large T (about 15 or more) diverges in
            float32.
        eps (float): added to the diagonal of Σ. Default: 1e-5.
        affine (bool): learn a per-channel weight and bias. Default: True.
        whitening (str): ``'newton'`` (the paper's T-step iteration, partial whitening by design) or
            ``'zca'`` (exact Σ^{-1/2} by eigendecomposition in float64, for analysis). Default: ``'newton'``.
        num_channels (int, optional): the authors' name for ``group_size``.

    Shape:
        - Input: (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W)
        - Output: same shape as input

    Examples:
        >>> gw = GroupWhitening(256, num_groups=64)
        >>> y = gw(torch.randn(2, 256, 32, 32))
        >>> GroupWhitening(256, group_size=8).num_groups
        32
    """

    _abbr_ = 'gw'
    _small_cfg_ = dict(num_groups=4)
    _paper_cfg_ = dict(num_groups=64)
    _choices_ = dict(whitening=('newton', 'zca'))
    _lower_bounds_ = dict(T=0)
    whitens_each_sample = True
    # The affine is fused into the whitening matmul (see GroupWhiteningFunction).
    _fuses_affine = True

    def __init__(self, num_features: int, num_groups: int = 64, group_size: Optional[int] = None, T: int = 5,
                 eps: float = 1e-5, affine: bool = True, whitening: str = 'newton', *,
                 num_channels: Optional[int] = None) -> None:
        super().__init__(num_features, eps=eps, affine=affine)
        group_size = self._requested_group_size(group_size, num_channels, largest=num_features)
        if group_size is not None:
            num_groups = num_features // group_size
        # More groups than channels means one channel per group: the GW paper's 64 groups in narrow layers.
        self.num_groups = min(num_groups, num_features)
        self.T = T
        self.whitening = whitening

    @property
    def group_size(self) -> int:
        """Channels per group, C/g."""
        return self.num_features // max(self.num_groups, 1)

    @property
    def whitened_dim(self) -> int:
        return self.num_groups

    def _normalize(self, x: Tensor) -> Tensor:
        if self.whitening == 'newton' and not torch.onnx.is_in_onnx_export():
            weight, bias = self._affine_params(x.dtype)
            return GroupWhiteningFunction.apply(x, weight, bias, self.num_groups, self.T, self.eps)
        # The same math out of place, for 'zca' and for ONNX export: the Function's forward writes its output
        # through `out=` views of one `torch.empty` buffer, and TorchScript's exporter, inlining it, keeps the
        # buffer but drops those writes, so the exported output did not depend on the input.
        rows = sample_rows(x, self.num_groups)
        xc = rows - rows.mean(-1, keepdim=True)
        sigma = covariance(xc, self.eps)
        wm = zca_whitening(sigma) if self.whitening == 'zca' else newton_schulz_whitening(sigma, self.T)
        return self._affine(wm.bmm(xc).view_as(x))

    def extra_repr(self) -> str:
        return (f'{self.num_features}, num_groups={self.num_groups}, group_size={self.group_size}, T={self.T}, '
                f'eps={self.eps}, affine={self.affine}, whitening={self.whitening!r}')
