"""GN+, the improved Group Normalization of Gunawan, Yin and Zhang (arXiv 2207.01972)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import MODELS
from torch import Tensor
from torch.autograd.function import once_differentiable

from .base import BaseNormLayer, _RunningStatsMixin
from .whitening import channel_dot, channel_moments, group_to_channels, pooled_moments


class GroupNormPlusFunction(torch.autograd.Function):
    r"""GN+ in training with ``batch_stats='channel'`` and ``denominator='sqrt_var'``, and its analytic
    backward: y = A_c·x_gn + B_c, with x_gn = (x − m_ng)·s_ng the GN part (s = 1/√(v + ε)), μ_c, σ²_c the
    batch statistics of x_gn, r_c = 1/√(σ²_c + ε), w = sigmoid(λ), and

    .. math::
        A_c = γ_c·(w + (1 − w)·r_c), \qquad B_c = β_c − γ_c·(1 − w)·r_c·μ_c.

    Forward: the moments of every (sample, channel) over its positions in one fused pass, from which both the
    GN statistics (pooled over each group's channels) and those of x_gn over the batch (x_gn is an affine map
    of x within a (sample, channel)) follow on (N, C) tensors; then torch's fused BatchNorm kernel in
    evaluation form on the (1, N·C, L) view writes y = (x − m)·s·A + B in one pass.

    Backward: the sums D_nc = Σ_l dy and P_nc = Σ_l dy·x_gn in one fused pass; with D_c, P_c their sums over
    the batch, H_c = r_c·(P_c − μ_c·D_c) (= Σ dy·x_bn), NL the values per channel and u = γ·(1 − w):
    dβ = D, dγ = w·P + (1 − w)·H, dλ = w(1 − w)·Σ_c γ_c·(P_c − H_c), the gradient reaching x_gn is
    A·dy + K·x_gn + J with K = −u·r²·H/NL and J = −u·r·D/NL + u·r²·μ·H/NL, and GroupNorm's backward
    (the group means T1, T2 of that gradient and of its product with x_gn, from the per-(sample, channel)
    sums) gives dx = s·A·dy + s²·(K − T2)·(x − m) + s·(J − T1): two elementwise passes.
    Saved for backward: the input and (N, C) statistics. Double backward is not supported.

    Returns y and, not differentiable, μ_c, σ²_c (biased) for the running statistics.
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Optional[Tensor], bias: Optional[Tensor], mix_logit: Tensor, groups: int,
                eps: float):
        n, c = x.shape[:2]
        rows = x.reshape(1, n * c, -1)  # one "channel" per (sample, channel): the kernels' per-channel sums
        length = rows.size(2)
        _, mean_nc, m2_nc = channel_moments(rows)
        size, gn_mean, gn_m2 = pooled_moments(length, mean_nc.view(n, c), m2_nc.view(n, c), groups)
        gn_var = gn_m2 / size
        # m, v and s = 1/√(v + ε) of each (n, c)'s group: (3, N, C)
        gn_stats = group_to_channels(torch.stack([gn_mean, gn_var, torch.rsqrt(gn_var + eps)]), c)
        centre_nc, gn_var_nc, scale_nc = gn_stats
        # x_gn within (n, c): mean s·(μ_nc − m), M2 s²·M2_nc; pooled over the batch:
        gn_means = scale_nc * (mean_nc.view(n, c) - centre_nc)
        batch_mean = gn_means.mean(0)
        deviation = gn_means - batch_mean
        gn_m2_nc = scale_nc * scale_nc * m2_nc.view(n, c)  # M2 of x_gn within each (n, c)
        batch_var = torch.addcmul(gn_m2_nc, deviation, deviation, value=length).sum(0).div_(n * length)
        batch_invstd = torch.rsqrt(batch_var + eps)
        w = torch.sigmoid(mix_logit)
        gamma = torch.ones_like(batch_mean) if weight is None else weight
        beta = torch.zeros_like(batch_mean) if bias is None else bias
        bn_share = (1 - w) * batch_invstd  # (1 − w)·r
        slope = gamma * (bn_share + w)  # A
        offset = torch.addcmul(beta, gamma * bn_share, batch_mean, value=-1)  # B
        affine = torch.stack([slope, offset]).repeat(1, n)  # per (n, c), as the (1, N·C, L) view's channels
        y = F.batch_norm(rows, centre_nc.reshape(-1), gn_var_nc.reshape(-1), affine[0], affine[1], False, 0.0, eps)
        # Reshaped without becoming a view, which the next layer (an in-place ReLU) could not modify.
        y = torch.ops.aten._unsafe_view(y, x.shape)
        ctx.save_for_backward(x, weight, mix_logit, gn_stats, gn_means, gn_m2_nc, batch_mean, batch_invstd, slope)
        ctx.groups, ctx.eps = groups, eps
        ctx.mark_non_differentiable(batch_mean, batch_var)
        return y, batch_mean, batch_var

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y: Tensor, *_):
        x, weight, mix_logit, gn_stats, gn_means, gn_m2_nc, mu, r, slope = ctx.saved_tensors
        centre_nc, gn_var_nc, scale_nc = gn_stats
        n, c = x.shape[:2]
        rows = x.reshape(1, n * c, -1)
        length = rows.size(2)
        grad_rows = grad_y.reshape(rows.shape)
        dot, total = channel_dot(grad_rows, rows, centre_nc.reshape(-1), scale_nc.reshape(-1))
        p_nc, d_nc = dot.view(n, c), total.view(n, c)  # Σ_l dy·x_gn, Σ_l dy
        p, d = p_nc.sum(0), d_nc.sum(0)
        w = torch.sigmoid(mix_logit)
        gamma = torch.ones_like(mu) if weight is None else weight
        h = r * torch.addcmul(p, mu, d, value=-1)
        grad_weight = torch.lerp(h, p, w)  # w·P + (1 − w)·H
        grad_mix = w * (1 - w) * (gamma * (p - h)).sum()
        grad_x = None
        if ctx.needs_input_grad[0]:
            values = n * length
            ur = gamma * (1 - w) * r  # u·r
            urrh = ur * r * h
            k = urrh / -values
            j = torch.addcmul(urrh * mu, ur, d, value=-1).div_(values)
            x1 = length * gn_means  # Σ_l x_gn per (n, c)
            x2 = torch.addcmul(gn_m2_nc, gn_means, gn_means, value=length)  # Σ_l x_gn²
            per_group = c // ctx.groups
            t1 = (slope * d_nc + k * x1 + length * j).view(n, ctx.groups, -1).sum(2)
            t2 = (slope * p_nc + k * x2 + j * x1).view(n, ctx.groups, -1).sum(2)
            t1, t2 = group_to_channels(torch.stack([t1, t2]).div_(per_group * length), c)
            # dx = s·A·dy + s·(K − T2)·x_gn + s·(J − T1), with x_gn = (x − m)·s: the second and third terms by
            # the kernel's evaluation form on x (weight s·(K − T2), bias s·(J − T1)), the first added in place.
            grad_x = F.batch_norm(rows, centre_nc.reshape(-1), gn_var_nc.reshape(-1),
                                  (scale_nc * (k - t2)).reshape(-1), (scale_nc * (j - t1)).reshape(-1), False, 0.0,
                                  ctx.eps)
            grad_x.addcmul_(grad_rows, (scale_nc * slope).view(1, -1, 1))
            grad_x = grad_x.view(x.shape)
        return (grad_x, grad_weight if ctx.needs_input_grad[1] else None, d if ctx.needs_input_grad[2] else None,
                grad_mix.view_as(mix_logit), None, None)


@MODELS.register_module('GNPlus')
class GroupNormPlus(_RunningStatsMixin, BaseNormLayer):
    r"""GN+: group normalization mixed with a batch standardisation of its own output.

    .. math::
        x_{gn} = \mathrm{GN}(x)\ \text{(no affine)}, \qquad
        x_{bn} = \frac{x_{gn} - μ}{\sqrt{σ^2 + ε}}, \qquad
        y = (w·x_{gn} + (1 - w)·x_{bn})·γ + β, \quad w = \mathrm{sigmoid}(λ),

    with one learnable scalar λ (``mix_logit``) initialised to 1.0, as in the authors' code.

    ``denominator`` says what both parts divide by. ``'sqrt_var'`` (default): √(σ² + ε) with the biased
    variance, as ``nn.GroupNorm`` and ``nn.BatchNorm2d``, so that λ → +∞ is ``nn.GroupNorm`` exactly and
    the GN part runs torch's fused kernel. ``'std'``: the unbiased standard deviation plus ε, (x − μ)/(s + ε),
    as the authors' ``GNPlusSequentialGNFirst`` (``x.std()`` is unbiased in torch); evaluation then divides by
    √(running variance) + ε. The two differ by the factor √(m/(m − 1)) of the m values behind a statistic
    and by where ε enters: negligible for a detector's groups (m in the thousands) but not for the batch
    part at 2 images per GPU with ``batch_stats='position'`` (m = 2).

    Where the input is constant, the two parts' 1/√ε multiply: the input gradient reaches (1 − w)·dy/ε, about
    3e4·dy at ε = 1e-5, beyond float16's range (65504) for float16 inputs, whose gradients are rounded from
    the float32 computation (with 'std', which divides by s + ε, either part alone gives dy/ε).

    ``batch_stats='channel'`` (default, the detection-safe form): μ, σ² per channel over (N, *spatial) in
    training, running mean and (unbiased) variance with torch's BatchNorm momentum in evaluation, so it works
    at one image per GPU. ``batch_stats='position'`` is the authors' original form: μ, σ² per
    (channel, position) over the batch axis only, no running statistics, in training and evaluation alike,
    which needs N ≥ 2 and fixed spatial sizes within a batch.

    As λ → +∞, GN+ becomes GroupNorm(num_groups, C).

    Args:
        num_features (int): C from an expected input of size (N, C, *spatial), 0 to 3 spatial dims.
        num_groups (int): groups of the GN part; must divide C. Default: 32.
        eps (float): added to both variances. Default: 1e-5.
        momentum (float, optional): running statistics momentum (``'channel'`` only). Default: 0.1.
        affine (bool): learn a per-channel weight and bias. Default: True.
        batch_stats (str): ``'channel'`` or ``'position'``. Default: ``'channel'``.
        denominator (str): ``'sqrt_var'`` or ``'std'`` (the authors'). Default: ``'sqrt_var'``.

    Shape:
        - Input: (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W)
        - Output: same shape as input

    Examples:
        >>> gnp = GroupNormPlus(256, num_groups=32)
        >>> y = gnp(torch.randn(2, 256, 32, 32))
        >>> round(float(torch.sigmoid(gnp.mix_logit)), 3)  # w, the weight of the GN part, at init
        0.731
    """

    _abbr_ = 'gnp'
    _small_cfg_ = dict(num_groups=4)
    _paper_cfg_ = dict(num_groups=32)
    _choices_ = dict(batch_stats=('channel', 'position'), denominator=('sqrt_var', 'std'))

    def __init__(self, num_features: int, num_groups: int = 32, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True, batch_stats: str = 'channel', denominator: str = 'sqrt_var') -> None:
        super().__init__(num_features, eps=eps, affine=affine)
        self.num_groups = num_groups
        self.momentum = momentum
        self.batch_stats = batch_stats
        self.denominator = denominator
        self.mix_logit = nn.Parameter(torch.empty(()))
        self._register_running_stats(num_features, track_running_stats=batch_stats == 'channel')

    def reset_parameters(self) -> None:
        super().reset_parameters()
        nn.init.constant_(self.mix_logit, 1.0)

    def run_problems(self, images_per_batch, world_size, distributed, sees_rois):
        # In an RoI head a batch is the RoIs of all its images: more than one even at one image per process.
        single_image = [name for name, images in images_per_batch.items() if images == 1]
        if self.batch_stats != 'position' or sees_rois or not single_image:
            return []
        loaders = ', '.join(f'{name}.batch_size=1' for name in single_image)
        return [f"batch_stats='position' takes its statistics over the images of a batch, but {loaders} (valid: "
                f"batch_stats='channel', or batch_size >= 2)"]

    def _divide(self, xc: Tensor, var: Tensor, count) -> Tensor:
        """Centred values over the denominator: √(var + ε), or √(var·m/(m − 1)) + ε for ``'std'``, with ``var``
        the biased variance of ``count`` = m values (None: ``var`` is already unbiased)."""
        if self.denominator == 'sqrt_var':
            return super()._divide(xc, var, count)
        # One value per statistic (a group of one channel of an (N, C) input) has no unbiased variance (m − 1 = 0):
        # 0, as the running statistics' unbiasing takes it, so that the output is 0 as with 'sqrt_var'.
        unbiased = var if count is None else var * (count / max(count - 1, 1))
        # √ has an infinite slope at 0: a constant group or channel (var = 0) would make the input gradients NaN.
        # Clamped to the smallest normal number, it passes no gradient there and changes no output (ε dominates).
        return xc / (unbiased.clamp_min(torch.finfo(unbiased.dtype).tiny).sqrt() + self.eps)

    def _group_standardize(self, x: Tensor) -> Tensor:
        if self.denominator == 'sqrt_var':
            if x.numel() == self.num_groups:
                # One value per group in the whole batch (one RoI, one channel per group), which F.group_norm
                # refuses, in evaluation too, as if it were a training BatchNorm: x − μ = 0.
                return x - x
            return F.group_norm(x, self.num_groups, eps=self.eps)
        rows = x.reshape(x.size(0), self.num_groups, -1)
        var, mean = torch.var_mean(rows, dim=2, correction=0, keepdim=True)
        return self._divide(rows - mean, var, rows.size(2)).view(x.shape)

    def _batch_standardize(self, x_gn: Tensor) -> Tensor:
        if self.batch_stats == 'position':
            if x_gn.size(0) < 2:
                raise ValueError(f"GNPlus(batch_stats='position') takes statistics over the batch axis and needs "
                                 f"at least 2 samples, got input of shape {tuple(x_gn.shape)}; use "
                                 f"batch_stats='channel' for batches of one image")
            var, mean = torch.var_mean(x_gn, dim=0, correction=0, keepdim=True)
            return self._divide(x_gn - mean, var, x_gn.size(0))
        return self._standardize(x_gn, dims=(0, ) + tuple(range(2, x_gn.dim())))

    @property
    def _fuses_affine(self) -> bool:
        # The default form applies the affine with its statistics in one kernel (GroupNormPlusFunction).
        return self.batch_stats == 'channel' and self.denominator == 'sqrt_var'

    def _normalize(self, x: Tensor) -> Tensor:
        if self._fuses_affine:
            return self._normalize_fused(x)
        x_gn = self._group_standardize(x)
        x_bn = self._batch_standardize(x_gn)
        w = torch.sigmoid(self.mix_logit.to(x.dtype))
        return torch.lerp(x_bn, x_gn, w)

    def _normalize_fused(self, x: Tensor) -> Tensor:
        weight, bias = self._affine_params(x.dtype)
        mix_logit = self.mix_logit.to(x.dtype)
        if self._uses_batch_stats():
            values = x.numel() // x.size(1)
            self._check_values_per_statistic(x, values)
            y, mean, var = GroupNormPlusFunction.apply(x.contiguous(), weight, bias, mix_logit, self.num_groups,
                                                       self.eps)
            self._update_running_stats(mean, var, values)
            return y
        # Evaluation: y = A·x_gn + B with the running statistics, which is GroupNorm with weight A and bias B.
        w = torch.sigmoid(mix_logit)
        invstd = torch.rsqrt(self.running_var.to(x.dtype) + self.eps)
        gamma = torch.ones_like(invstd) if weight is None else weight
        slope = gamma * (w + (1 - w) * invstd)
        offset = -gamma * (1 - w) * invstd * self.running_mean.to(x.dtype)
        if bias is not None:
            offset = offset + bias
        if x.numel() == self.num_groups:  # one value per group, which F.group_norm refuses: x_gn = 0
            return (x - x) + offset.view((1, -1) + (1, ) * (x.dim() - 2))
        return F.group_norm(x, self.num_groups, slope, offset, self.eps)

    def extra_repr(self) -> str:
        return (f'{self.num_features}, num_groups={self.num_groups}, eps={self.eps}, momentum={self.momentum}, '
                f'affine={self.affine}, batch_stats={self.batch_stats!r}, denominator={self.denominator!r}')
