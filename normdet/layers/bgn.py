"""Batch Group Normalization (Zhou et al., arXiv 2012.02782) and its cross-process SyncBGN."""
import torch
import torch.distributed as dist
from mmengine.registry import MODELS
from torch import Tensor

from .base import BaseNormLayer, _RunningStatsMixin
from .whitening import sample_rows


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

    def _normalize(self, x: Tensor) -> Tensor:
        # rows (N, G, m): one statistic per group, over the batch and the group's features
        return self._standardize(sample_rows(x, self.num_groups), dims=(0, 2)).view_as(x)

    def extra_repr(self) -> str:
        return (f'{self.num_features}, num_groups={self.num_groups}, eps={self.eps}, '
                f'momentum={self.momentum}, affine={self.affine}, '
                f'track_running_stats={self.track_running_stats}')


@MODELS.register_module('SyncBGN')
class SyncBatchGroupNorm(BatchGroupNorm):
    r"""BGN whose training statistics are taken over the batches of all processes of a process group.

    Equals BGN on the concatenation of the per-process batches, gradients included (the reductions are
    differentiable all-reduces), for uneven batches too, including a process with an empty batch, which
    still joins the reductions. Without an initialised process group of more than one process it is BGN.
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

    def _batch_stats(self, rows: Tensor, dims):
        if self._world_size() == 1:
            return super()._batch_stats(rows, dims)
        from torch.distributed.nn.functional import all_reduce
        group = self.process_group or dist.group.WORLD
        # Two reductions (sum, then squared deviations from the global mean) rather than sum and sum of
        # squares: the latter cancels catastrophically in float32 when |mean| >> std.
        # float64 keeps the count exact beyond 2**24 values per group.
        local = torch.cat([rows.sum((0, 2)).double(), rows.new_full((1, ), rows.size(0) * rows.size(2),
                                                                    dtype=torch.float64)])
        totals = all_reduce(local, group=group)
        count = totals[-1]
        mean = (totals[:-1] / count).to(rows.dtype)
        var = all_reduce(((rows - mean.view(1, -1, 1))**2).sum((0, 2)), group=group) / count.to(rows.dtype)
        return mean, var, count

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
