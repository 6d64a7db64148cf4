"""Batch Group Normalization (Zhou et al., arXiv 2012.02782) and its cross-process SyncBGN."""
from typing import Optional, Tuple

import torch
import torch.distributed as dist
import torch.nn.functional as F
from mmengine.registry import MODELS
from torch import Tensor
from torch.autograd.function import once_differentiable

from .base import BaseNormLayer, _RunningStatsMixin
from .whitening import channel_dot, channel_moments, group_to_channels, pooled_moments, sample_rows


def group_moments(x: Tensor, groups: int) -> Tuple[object, Tensor, Tensor]:
    """(n, μ, M2) of each of the G groups of channels of (N, C, *spatial), over the batch and positions;
    one pass over x (:func:`~normdet.layers.whitening.channel_moments` of its (N, G, ·) rows when it is
    contiguous, of its channels, pooled, in another layout)."""
    if x.is_contiguous():
        return channel_moments(sample_rows(x, groups))
    return pooled_moments(*channel_moments(x), groups)


class BatchGroupNormFunction(torch.autograd.Function):
    r"""y = (x − μ_g)·r_g·γ_c + β_c with batch statistics per group, r_g = 1/√(σ²_g + ε), and its analytic
    backward; over the processes of ``process_group`` when one is given (SyncBGN).

    Forward: the groups' moments in one fused reduction (and across processes in one all-reduce), then
    torch's fused BatchNorm kernel in evaluation form with each channel given its group's μ and σ²: one pass
    that writes the output.

    Backward, with sums over the batch and positions: dβ_c = Σ dy, dγ_c = Σ dy·x̂ (one fused reduction), and

    .. math::
        dx = r_g·\big(γ_c·dy − k_1 − x̂·k_2\big), \quad k_1 = \frac{1}{M_g}\sum_{c∈g} γ_c·dβ_c, \quad
        k_2 = \frac{1}{M_g}\sum_{c∈g} γ_c·dγ_c,

    M_g the values behind a group's statistics (over all processes, whose k's are summed in one all-reduce).
    dx takes two passes: −r·(k_1 + x̂·k_2) by the same evaluation-form kernel on x, then γ·r·dy added in
    place. Saved for backward: the input and (C,) vectors; not the output, not x̂. Double backward is not
    supported. The statistics are handled as stacked (k, G) and (k, C) tensors: on small maps the layer's
    time is the count of such small operations, not its passes over the data.

    Returns y and, not differentiable, the group mean and biased variance, and the count of values behind
    them: an int, or a float64 tensor summed over the process group.
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Optional[Tensor], bias: Optional[Tensor], groups: int, eps: float,
                process_group=None):
        count, mean, m2 = group_moments(x, groups)
        if process_group is not None:
            # One all-reduce of (n, Σx, M2 + (Σx)²/n) per group; M2 = Σ(M2_p + S_p²/n_p) − S²/n in float64,
            # exact enough for |μ| up to 1e4·σ. A process with no values sends zeros.
            total = mean.double() * count
            second = m2.double() + (total * total / count if count else 0.0)
            packed = torch.cat([total.new_full((1, ), float(count)), total, second])
            dist.all_reduce(packed, group=process_group)
            count, total, second = packed[0], packed[1:groups + 1], packed[groups + 1:]
            mean = (total / count).to(x.dtype)
            m2 = (second - total * total / count).clamp_min(0).to(x.dtype)
            var = m2 / count.to(x.dtype)
        else:
            var = m2 / count
        stats = group_to_channels(torch.stack([mean, var, torch.rsqrt(var + eps)]), x.size(1))  # μ, σ², r per channel
        mean_c, var_c, _ = stats
        y = F.batch_norm(x, mean_c, var_c, weight, bias, False, 0.0, eps)
        ctx.groups, ctx.eps, ctx.process_group, ctx.count = groups, eps, process_group, count
        ctx.save_for_backward(x, weight, stats)
        ctx.mark_non_differentiable(mean, var)
        return y, mean, var, count

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y: Tensor, *_):
        x, weight, stats = ctx.saved_tensors
        mean_c, var_c, invstd_c = stats
        grad_x = None
        grad_weight, grad_bias = channel_dot(grad_y, x, mean_c, invstd_c)  # Σ dy·x̂, Σ dy
        if ctx.needs_input_grad[0]:
            gamma = torch.ones_like(mean_c) if weight is None else weight
            # (2, G): Σ_{c∈g} γ_c·dβ_c and Σ_{c∈g} γ_c·dγ_c
            sums = (torch.stack([grad_bias, grad_weight]) * gamma).view(2, ctx.groups, -1).sum(2)
            if ctx.process_group is not None:
                dist.all_reduce(sums, group=ctx.process_group)
            count = ctx.count.to(x.dtype) if isinstance(ctx.count, Tensor) else ctx.count
            # −r·k1 and −r·k2 per channel; (x − μ)·r·(−r·k2) − r·k1 = −r·(k1 + x̂·k2), by the kernel's
            # evaluation form
            coef = group_to_channels(sums, x.size(1)).mul_(invstd_c).div_(-count)
            grad_x = F.batch_norm(x, mean_c, var_c, coef[1], coef[0], False, 0.0, ctx.eps)
            grad_x.addcmul_(grad_y, (gamma * invstd_c).view((1, -1) + (1, ) * (x.dim() - 2)))
        return (grad_x, grad_weight if ctx.needs_input_grad[1] else None,
                grad_bias if ctx.needs_input_grad[2] else None, None, None, None)


@MODELS.register_module('BGN')
class BatchGroupNorm(_RunningStatsMixin, BaseNormLayer):
    r"""Batch Group Normalization: one statistic per group of the (channel, position) features, over the batch.

    The input (N, C, *spatial) is viewed as (N, G, (C/G)·prod(spatial)). In training, the mean μ_g and
    biased variance σ²_g of group g are taken over the batch and the group's features, and

    .. math::
        y = \frac{x - μ_g}{\sqrt{σ^2_g + ε}}·γ_c + β_c,

    while running_mean and running_var (shape (G,), unbiased variance) are updated with torch's BatchNorm
    momentum convention; evaluation uses the running statistics. G = C is exactly ``nn.BatchNorm2d``; G = 1
    takes one statistic over the whole batch. The paper gives no code: this follows its definition, with
    the running statistics of BatchNorm.

    Args:
        num_features (int): C from an expected input of size (N, C, *spatial), 0 to 3 spatial dims.
        num_groups (int): G, which must divide C. Default: 32.
        eps (float): added to the variance. Default: 1e-5.
        momentum (float, optional): weight of the newest batch in the running statistics; ``None`` for a
            cumulative average. Default: 0.1.
        affine (bool): learn a per-channel weight and bias. Default: True.
        track_running_stats (bool): keep running statistics for evaluation; if False, evaluation uses batch
            statistics too. Default: True.

    Shape:
        - Input: (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W)
        - Output: same shape as input

    Examples:
        >>> bgn = BatchGroupNorm(256, num_groups=32)
        >>> y = bgn(torch.randn(2, 256, 32, 32))
        >>> bgn.running_mean.shape
        torch.Size([32])
    """

    _abbr_ = 'bgn'
    _small_cfg_ = dict(num_groups=4)
    _paper_cfg_ = dict(num_groups=32)

    def __init__(self, num_features: int, num_groups: int = 32, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True, track_running_stats: bool = True) -> None:
        super().__init__(num_features, eps=eps, affine=affine)
        self.num_groups = num_groups
        self.momentum = momentum
        self._register_running_stats(max(num_groups, 1), track_running_stats)

    def _fitting_config(self, name, saved_shape):
        if name not in ('running_mean', 'running_var', 'num_batches_tracked'):
            return super()._fitting_config(name, saved_shape)
        # One running statistic per group: the checkpoint's length is its group count.
        if len(saved_shape) == 1 and saved_shape[0] and self.num_features % saved_shape[0] == 0:
            return f'num_groups={saved_shape[0]}'
        return None

    # The affine is applied by torch's BatchNorm kernel with the group statistics (BatchGroupNormFunction).
    _fuses_affine = True

    def _process_group(self):
        """The process group the statistics are taken over, None for this process's batch alone."""
        return None

    def _normalize(self, x: Tensor) -> Tensor:
        weight, bias = self._affine_params(x.dtype)
        if not self._uses_batch_stats():
            mean, var = group_to_channels(torch.stack([self.running_mean, self.running_var]).to(x.dtype), x.size(1))
            return F.batch_norm(x, mean, var, weight, bias, False, 0.0, self.eps)
        group = self._process_group()
        if group is None:
            self._check_values_per_statistic(x, x.numel() // self.num_groups)
        y, mean, var, count = BatchGroupNormFunction.apply(x, weight, bias, self.num_groups, self.eps, group)
        self._update_running_stats(mean, var, count)
        return y

    def extra_repr(self) -> str:
        return (f'{self.num_features}, num_groups={self.num_groups}, eps={self.eps}, '
                f'momentum={self.momentum}, affine={self.affine}, '
                f'track_running_stats={self.track_running_stats}')


@MODELS.register_module('SyncBGN')
class SyncBatchGroupNorm(BatchGroupNorm):
    r"""BGN whose training statistics are taken over the batches of all processes of a process group.

    Equals BGN on the concatenation of the per-process batches, gradients included (one all-reduce of the
    groups' moments in the forward, one of the gradient's group sums in the backward), for uneven batches
    too, including a process with an empty batch, which still joins the reductions. Without an initialised
    process group of more than one process it is BGN.
    As with ``nn.SyncBatchNorm``, every process must call the layer in each training forward.

    Args:
        process_group (ProcessGroup, optional): the processes to synchronise; default: the whole world.
        Others as :class:`BatchGroupNorm`.

    Shape:
        - Input: (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W); N may be 0 on some processes
        - Output: same shape as input

    Examples:
        >>> # in each process of a job started with torchrun, after init_process_group
        >>> sync_bgn = SyncBatchGroupNorm(256, num_groups=32)
        >>> y = sync_bgn(torch.randn(2, 256, 32, 32))  # statistics over every process's 2 images
    """

    def __init__(self, num_features: int, num_groups: int = 32, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True, track_running_stats: bool = True, process_group=None) -> None:
        super().__init__(num_features, num_groups=num_groups, eps=eps, momentum=momentum, affine=affine,
                         track_running_stats=track_running_stats)
        self.process_group = process_group

    def _world_size(self) -> int:
        if not (dist.is_available() and dist.is_initialized()):
            return 1
        return dist.get_world_size(self.process_group)

    def _process_group(self):
        if self._world_size() == 1:
            return None
        return self.process_group or dist.group.WORLD

    @property
    def _normalizes_empty_batches(self) -> bool:
        # A process with an empty batch must still join the other processes' reductions.
        return self._uses_batch_stats() and self._world_size() > 1

    def run_problems(self, images_per_batch, world_size, distributed, sees_rois):
        if world_size > 1 and not distributed:
            return [f'this process is one of {world_size} (WORLD_SIZE) but has no process group '
                    f"(launcher='none'), so it would normalize its own batch only (valid: --launcher pytorch as "
                    f"in tools/dist_train.sh, or type='BGN')"]
        return []

    def extra_repr(self) -> str:
        return super().extra_repr() + f', process_group={self.process_group}'
