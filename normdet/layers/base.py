"""Plumbing shared by every normdet layer: input checks, float32 compute, empty batches, the affine.

Subclasses implement :meth:`_NormBase._normalize`, which receives a float32 (or float64) tensor of shape
(N, C, *spatial) with N > 0 (or N == 0 where :attr:`_normalizes_empty_batches` is set) and returns the
normalized tensor before the affine (after it, where :attr:`_fuses_affine` is set). Everything a detector
feeds a norm layer goes through here once: RoI heads with no proposals (N = 0), FC features (N, C),
autocast and half-precision models, channels_last.
"""
from contextlib import contextmanager
from contextvars import ContextVar

import torch
import torch.nn as nn
from torch import Tensor

# Half-precision inputs are normalized in float32: covariances and Newton iterations lose too much in
# 8 or 11 mantissa bits, and torch.linalg refuses float16/bfloat16 outright.
_LOW_PRECISION = (torch.float16, torch.bfloat16)

# Set while a model builder collects configuration problems instead of failing at the first layer.
_COLLECTED_PROBLEMS: ContextVar = ContextVar('normdet_collected_config_problems', default=None)


class NormConfigError(ValueError):
    """A normdet layer's arguments cannot work at its width (e.g. a group count that does not divide its
    channels). The message says what the value is and what would be valid."""


@contextmanager
def collect_config_problems():
    """Build normdet layers with invalid arguments instead of raising :class:`NormConfigError`, and
    collect what is wrong, so that a model builder can report every problem with the layer's module path
    (which a layer does not know while its parent is still being constructed).

    Yields a list that receives ``(layer, problems)`` for each layer built inside the block. The layers
    in it must not be run: the caller raises once the model is built
    (:class:`~normdet.engine.NormDetRunner` does).
    """
    problems = []
    token = _COLLECTED_PROBLEMS.set(problems)
    try:
        yield problems
    finally:
        _COLLECTED_PROBLEMS.reset(token)


def divisors(n: int) -> list:
    """The divisors of ``n`` in increasing order: the valid group counts for ``n`` channels."""
    return [d for d in range(1, n + 1) if n % d == 0]


def group_count_problems(num_groups: int, num_features: int) -> list:
    """The problem with ``num_groups`` groups of ``num_features`` channels, if any (see
    :meth:`_NormBase.config_problems`)."""
    if num_groups >= 1 and num_features % num_groups == 0:
        return []
    return [f'num_groups={num_groups} does not divide its {num_features} channels (valid: '
            f'{", ".join(map(str, divisors(num_features)))})']


class _NormBase(nn.Module):
    """Base of the normdet normalization layers (not registered; not a norm by itself).

    Args:
        num_features (int): C, the number of channels of the (N, C, *spatial) input.
        eps (float): added for numerical stability; each subclass says where.
        affine (bool): learn a per-channel weight (init 1) and bias (init 0).
    """

    _normalizes_empty_batches = False
    # Set by layers whose `_normalize` applies the affine itself (fused into their whitening matmul).
    _fuses_affine = False

    def __init__(self, num_features: int, eps: float = 1e-5, affine: bool = True) -> None:
        super().__init__()
        if int(num_features) != num_features or num_features < 1:
            raise ValueError(f'{type(self).__name__}: num_features must be a positive integer, '
                             f'got {num_features!r}')
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.affine = affine
        if affine:
            self.weight = nn.Parameter(torch.empty(self.num_features))
            self.bias = nn.Parameter(torch.empty(self.num_features))
        else:
            self.register_parameter('weight', None)
            self.register_parameter('bias', None)

    @property
    def has_running_stats(self) -> bool:
        """Whether eval mode uses statistics gathered in training (and so `norm_eval` applies)."""
        return getattr(self, 'running_mean', None) is not None

    def reset_running_stats(self) -> None:
        """Overridden by layers with running statistics."""

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            nn.init.ones_(self.weight)
            nn.init.zeros_(self.bias)

    def config_problems(self) -> list:
        """What is wrong with this layer's arguments, each as ``'<argument>=<value> ... (valid: ...)'``;
        empty when the layer can run. Subclasses with constraints extend it."""
        return []

    def _check_config(self) -> None:
        """Called at the end of each subclass's ``__init__``: raise :class:`NormConfigError`, or hand the
        problems to :func:`collect_config_problems` when a model builder collects them."""
        problems = self.config_problems()
        if not problems:
            return
        collected = _COLLECTED_PROBLEMS.get()
        if collected is None:
            raise NormConfigError(f'{type(self).__name__}({self.num_features}): ' + '; '.join(problems))
        collected.append((self, problems))

    def _check_input(self, x: Tensor) -> None:
        if not 2 <= x.dim() <= 5:
            raise ValueError(f'{type(self).__name__} expects input of shape (N, C) or (N, C, *spatial) with '
                             f'1 to 3 spatial dims, got a {x.dim()}-d input of shape {tuple(x.shape)}')
        if x.size(1) != self.num_features:
            raise ValueError(f'{type(self).__name__}({self.num_features}) expects {self.num_features} '
                             f'channels (dim 1), got input of shape {tuple(x.shape)}')

    def _affine(self, y: Tensor) -> Tensor:
        if not self.affine:
            return y
        shape = (1, -1) + (1, ) * (y.dim() - 2)
        return torch.addcmul(self.bias.to(y.dtype).view(shape), y, self.weight.to(y.dtype).view(shape))

    def _normalize(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    @staticmethod
    def _rows(x: Tensor, groups: int) -> Tensor:
        """View (N, C, *spatial) as (N, groups, (C/groups)·prod(spatial)); works for N = 0 too."""
        return x.reshape(x.size(0), groups, x.shape[1:].numel() // groups)

    def _check_finite(self, x: Tensor) -> None:
        # Only under anomaly detection: the check reads the tensor back to the host, a sync per layer.
        if torch.is_anomaly_enabled() and not bool(torch.isfinite(x).all()):
            raise FloatingPointError(
                f'{type(self).__name__}({self.num_features}) got a non-finite input of shape {tuple(x.shape)} '
                f'({int(torch.isnan(x).sum())} NaN, {int(torch.isinf(x).sum())} inf): the layer before it '
                f'diverged')

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        self._check_finite(x)
        if x.size(0) == 0 and not self._normalizes_empty_batches:
            # The affine keeps weight and bias in the graph, so DDP sees them used on every rank.
            return self._affine(x)
        channels_last = x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(
            memory_format=torch.channels_last)
        compute_dtype = torch.float32 if x.dtype in _LOW_PRECISION else x.dtype
        with torch.autocast(device_type=x.device.type, enabled=False):
            y = self._normalize(x.to(compute_dtype))
            if not self._fuses_affine:
                y = self._affine(y)
        y = y.to(x.dtype)
        return y.contiguous(memory_format=torch.channels_last) if channels_last else y


class _RunningStatsMixin:
    """Running mean/variance kept with torch's BatchNorm conventions.

    `momentum` weighs the newest batch (running = (1 - momentum)·running + momentum·batch); `momentum=None`
    gives the cumulative average over `num_batches_tracked`, as in torch. The running variance is unbiased.
    """

    def _register_running_stats(self, shape, track_running_stats: bool = True) -> None:
        self.track_running_stats = track_running_stats
        if track_running_stats:
            self.register_buffer('running_mean', torch.zeros(shape))
            self.register_buffer('running_var', torch.ones(shape))
            self.register_buffer('num_batches_tracked', torch.tensor(0, dtype=torch.long))
        else:
            self.register_buffer('running_mean', None)
            self.register_buffer('running_var', None)
            self.register_buffer('num_batches_tracked', None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def _uses_batch_stats(self) -> bool:
        return self.training or not self.track_running_stats

    def _batch_stats(self, x: Tensor, dims):
        """Mean and biased variance of `x` over `dims`, and the number of values behind each."""
        count = 1
        for d in dims:
            count *= x.size(d)
        if count < 2:
            raise ValueError(f'{type(self).__name__} needs more than 1 value per statistic in training (as '
                             f'BatchNorm), got input of shape {tuple(x.shape)}')
        var, mean = torch.var_mean(x, dim=dims, correction=0)
        return mean, var, count

    def _standardize(self, x: Tensor, dims) -> Tensor:
        """(x − μ)/√(σ² + ε) with one statistic per index of the dims not reduced: batch statistics over
        `dims` in training (folded into the running ones), running statistics in evaluation."""
        if self._uses_batch_stats():
            mean, var, count = self._batch_stats(x, dims)
            self._update_running_stats(mean, var, count)
        else:
            mean, var = self.running_mean.to(x.dtype), self.running_var.to(x.dtype)
        shape = [1 if d in dims else x.size(d) for d in range(x.dim())]
        return (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)

    def _update_running_stats(self, mean: Tensor, var: Tensor, count) -> None:
        """Fold a batch's mean and biased variance, computed over `count` values each, into the buffers."""
        if not (self.training and self.track_running_stats):
            return
        self.num_batches_tracked.add_(1)
        momentum = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        if isinstance(count, Tensor):  # a count gathered across processes; reading it would sync the host
            unbiased = var * (count / (count - 1).clamp_min(1)).to(var.dtype)
        else:
            unbiased = var * (count / max(count - 1, 1))
        with torch.no_grad():
            self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), momentum)
            self.running_var.lerp_(unbiased.detach().to(self.running_var.dtype), momentum)


def group_size_problems(group_size: int) -> list:
    """The problem with ``group_size`` channels per group (ItN, SWBN), if any: every size >= 1 works at
    every width (see :func:`channel_groups`)."""
    return [] if group_size >= 1 else [f'num_channels={group_size} (channels per group; valid: >= 1)']


def channel_groups(num_features: int, group_size: int) -> int:
    """Channels per group for the batch-whitening layers (ItN, SWBN).

    The requested size is halved until it divides `num_features`, as the official IterNorm code does, so
    the layer works at every width of a detector (e.g. 64 -> 32 for a 96-channel head).
    """
    if group_size < 1:
        raise NormConfigError(f'num_channels (channels per group) must be >= 1, got {group_size}')
    size = group_size
    while num_features % size:
        size //= 2
    return size
