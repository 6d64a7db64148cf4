"""GN+, the improved Group Normalization of Gunawan, Yin and Zhang (arXiv 2207.01972)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import MODELS
from torch import Tensor

from .base import BaseNormLayer, _RunningStatsMixin


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

    def _normalize(self, x: Tensor) -> Tensor:
        x_gn = self._group_standardize(x)
        x_bn = self._batch_standardize(x_gn)
        w = torch.sigmoid(self.mix_logit.to(x.dtype))
        return torch.lerp(x_bn, x_gn, w)

    def extra_repr(self) -> str:
        return (f'{self.num_features}, num_groups={self.num_groups}, eps={self.eps}, momentum={self.momentum}, '
                f'affine={self.affine}, batch_stats={self.batch_stats!r}, denominator={self.denominator!r}')
