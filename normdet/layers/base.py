"""Plumbing shared by every normdet layer: argument checks, input checks, float32 compute, empty batches,
the affine, and the run-time checks a runner asks each layer for.

Subclasses implement :meth:`BaseNormLayer._normalize`, which receives a float32 (or float64) tensor of shape
(N, C, *spatial) with N > 0 (or N == 0 where :attr:`_normalizes_empty_batches` is set) and returns the
normalized tensor before the affine (after it, where :attr:`_fuses_affine` is set). Everything a detector
feeds a norm layer goes through here once: RoI heads with no proposals (N = 0), FC features (N, C),
autocast and half-precision models, channels_last.
"""
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from .whitening import is_compiling

# Half-precision inputs are normalized in float32: covariances and Newton iterations lose too much in
# 8 or 11 mantissa bits, and torch.linalg refuses float16/bfloat16 outright.
_LOW_PRECISION = (torch.float16, torch.bfloat16)

# Set while a model builder collects configuration problems instead of failing at the first layer.
_COLLECTED_PROBLEMS: ContextVar = ContextVar('normdet_collected_config_problems', default=None)

# The key of a state_dict's per-module metadata (beside torch's 'version') naming the normdet layer class
# that saved the entry: only then is the version one of ours (torch's BatchNorm writes 2 for its own layout).
STATE_LAYER_KEY = 'normdet_layer'


def _record_layer_class(module, state_dict, prefix, local_metadata) -> None:
    local_metadata[STATE_LAYER_KEY] = type(module).__name__


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
    :meth:`BaseNormLayer.config_problems`)."""
    if num_groups >= 1 and num_features % num_groups == 0:
        return []
    return [f'num_groups={num_groups} does not divide its {num_features} channels (valid: '
            f'{", ".join(map(str, divisors(num_features)))})']


def resolve_group_size(num_features: int, group_size: int) -> int:
    """The channels per group the batch-whitening layers (ItN, SWBN) use for a requested ``group_size``.

    The requested size is halved until it divides `num_features`, as the official IterNorm code does, so
    the layer works at every width of a detector (e.g. 64 -> 32 for a 96-channel head).
    """
    if group_size < 1:
        raise NormConfigError(f'group_size (channels per group) must be >= 1, got {group_size}')
    size = group_size
    while num_features % size:
        size //= 2
    return size


class _ResetAndCheckAfterInit(type):
    """Metaclass of :class:`BaseNormLayer`: once the most derived ``__init__`` has set every attribute,
    initialise the parameters and check the arguments, so that no layer's ``__init__`` ends with these
    two calls (and a subclass such as SyncBGN is checked with its own attributes set)."""

    def __call__(cls, *args, **kwargs):
        layer = super().__call__(*args, **kwargs)
        layer.reset_parameters()
        layer._check_config()
        return layer


class BaseNormLayer(nn.Module, metaclass=_ResetAndCheckAfterInit):
    """Base of the normdet normalization layers (not registered; not a norm by itself).

    A layer registers itself in mmengine's root ``MODELS`` and declares next to its ``_abbr_`` (the name
    mmcv's ``build_norm_layer`` gives it) the arguments its tests and the benchmark build it with:
    ``_small_cfg_`` (fits 8 channels) and ``_paper_cfg_`` (its paper's defaults at a detector's widths);
    see :func:`normdet.layers.small_norm_cfg`. Its argument constraints are declared too
    (``_choices_``, ``_lower_bounds_``) and checked here, with the group count or size, after its
    ``__init__``: :meth:`config_problems`.

    State versions: ``state_dict()`` records ``_version`` (the layout of the layer's parameters and
    buffers, torch's convention as in BatchNorm) and the layer's class in the metadata; loading migrates an
    older layout one version at a time (:meth:`_migrate_state`) and reports a tensor of the wrong shape with
    the layer, the key and what would fit (:meth:`_load_from_state_dict`).

    Args:
        num_features (int): C, the number of channels of the (N, C, *spatial) input.
        eps (float): added for numerical stability; each subclass says where.
        affine (bool): learn a per-channel weight (init 1) and bias (init 0).
    """

    _abbr_: str
    _small_cfg_: Dict[str, object] = {}
    _paper_cfg_: Dict[str, object] = {}
    # Argument name -> its valid values, and argument name -> its smallest valid value.
    _choices_: Dict[str, Tuple] = {}
    _lower_bounds_: Dict[str, float] = {}

    # Groups of channels normalized together, where the layer has them (None: it has none).
    num_groups: Optional[int] = None
    # For the benchmark's floor model: d of the d×d covariances the layer whitens by Newton's iteration in
    # each training forward (GW: its g groups; ItN: its group size), and whether it whitens each sample on
    # its own (GW) or each group over the batch (ItN). None for the layers that compute no whitening.
    whitened_dim: Optional[int] = None
    whitens_each_sample: Optional[bool] = None

    _normalizes_empty_batches = False
    # Set by layers whose `_normalize` applies the affine itself (fused into their whitening matmul).
    _fuses_affine = False
    # Set by _GroupSizeMixin._requested_group_size when the group size argument cannot work.
    _group_size_problems: List[str] = []

    # Every layer's parameters and buffers have kept their names and shapes since the first release
    # (git log -p -- normdet/layers: SWBN's and ItN's group-size argument was renamed, not their buffers),
    # which is version 1. A layer that changes its layout raises its own `_version` and migrates the older
    # one in `_migrate_state`.
    _version = 1

    def __init__(self, num_features: int, eps: float = 1e-5, affine: bool = True) -> None:
        super().__init__()
        # The private form of register_state_dict_post_hook, which the older torch releases that
        # requirements/runtime.txt allows (torch>=2.0) lack; the hook returns None, as both forms accept.
        self._register_state_dict_hook(_record_layer_class)
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

    def reset_running_stats(self) -> None:
        """Overridden by layers with running statistics."""

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            nn.init.ones_(self.weight)
            nn.init.zeros_(self.bias)

    def config_problems(self) -> list:
        """What is wrong with this layer's arguments, each as ``'<argument>=<value> ... (valid: ...)'``;
        empty when the layer can run: the group size or count, then the declared ``_choices_`` and
        ``_lower_bounds_``."""
        problems = list(self._group_size_problems)
        if not problems and self.num_groups is not None:
            problems += group_count_problems(self.num_groups, self.num_features)
        for name, valid in self._choices_.items():
            if getattr(self, name) not in valid:
                problems.append(f'{name}={getattr(self, name)!r} (valid: {", ".join(map(repr, valid))})')
        for name, lowest in self._lower_bounds_.items():
            if getattr(self, name) < lowest:
                problems.append(f'{name}={getattr(self, name)} (valid: >= {lowest})')
        return problems

    def _check_config(self) -> None:
        """Called after the layer's ``__init__``: raise :class:`NormConfigError`, or hand the problems to
        :func:`collect_config_problems` when a model builder collects them."""
        problems = self.config_problems()
        if not problems:
            return
        collected = _COLLECTED_PROBLEMS.get()
        if collected is None:
            raise NormConfigError(f'{type(self).__name__}({self.num_features}): ' + '; '.join(problems))
        collected.append((self, problems))

    def run_problems(self, images_per_batch: Dict[str, int], world_size: int, distributed: bool,
                     sees_rois: bool) -> List[str]:
        """What keeps this layer from working in a run launched this way, for the runner's checks before
        training (:func:`normdet.engine.checks.check_built_norms`); empty for most layers.

        Args:
            images_per_batch (dict): images per process of each of the run's dataloaders, e.g.
                ``{'train_dataloader': 2, 'test_dataloader': 1}``.
            world_size (int): processes the launcher started.
            distributed (bool): whether this process has a process group.
            sees_rois (bool): whether the layer sits in an RoI head, where a batch is the RoIs of all
                images, not the images.
        """
        return []

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        """torch's loading of this layer's tensors, after migrating an older state version and checking the
        checkpoint against this layer; problems go to ``error_msgs``, which ``load_state_dict`` raises.

        The version is read only from an entry a normdet layer saved (:data:`STATE_LAYER_KEY`); any other
        entry counts as version 1, today's layout: ours saved before versions were recorded, or another
        module's (a BatchNorm checkpoint initialising BGN), whose shapes the checks judge.
        """
        saved_by = local_metadata.get(STATE_LAYER_KEY)
        version = local_metadata.get('version', 1) if saved_by else 1
        if version > self._version:
            error_msgs.append(f'{self._describe()} at {prefix[:-1]!r}: the checkpoint holds state version '
                              f'{version} (saved by {saved_by}), newer than the {self._version} this normdet reads '
                              f'(valid: a normdet that writes version {version}, or a checkpoint of version '
                              f'<= {self._version})')
            return
        for old in range(version, self._version):
            self._migrate_state(state_dict, prefix, old)
        wrong_shape = self._check_state(state_dict, prefix, saved_by, error_msgs)
        for key in wrong_shape:  # reported above; torch would report them again as a size mismatch
            del state_dict[key]
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)
        for key in wrong_shape:  # not missing: present in another shape, which the message says
            if key in missing_keys:
                missing_keys.remove(key)

    def _migrate_state(self, state_dict: dict, prefix: str, version: int) -> None:
        """Rewrite this layer's entries of ``state_dict`` (keys ``prefix + name``) from state version
        ``version`` to ``version + 1``, in place. Overridden by a layer whose ``_version`` is above 1, in its own
        file; every layer is at version 1, so none does yet."""
        raise NotImplementedError(f'{type(self).__name__} is at state version {self._version} but has no '
                                  f'migration from version {version}')

    def _check_state(self, state_dict, prefix: str, saved_by: Optional[str], error_msgs: List[str]) -> List[str]:
        """Report each parameter or buffer of this layer that the checkpoint holds in another shape (an error
        even in non-strict loading, as torch's size mismatch is); return their keys."""
        wrong_shape = []
        expected = {name: t for name, t in list(self._parameters.items()) + list(self._buffers.items())
                    if t is not None and name not in self._non_persistent_buffers_set}
        for name, tensor in expected.items():
            key, shape = prefix + name, tuple(tensor.shape)
            if key not in state_dict:
                # Left to torch: an error under strict loading, a missing key otherwise (mmengine's load_from
                # and Pretrained init load non-strictly, e.g. after a config change that adds running statistics).
                continue
            if not isinstance(state_dict[key], Tensor):
                continue  # torch's loading reports it
            saved = tuple(state_dict[key].shape)
            # torch loads a (1,) tensor into a 0-d parameter (GNPlus' mix_logit), for old checkpoints.
            if saved != shape and not (shape == () and saved == (1, )):
                fits = self._fitting_config(name, saved)
                error_msgs.append(f'{self._describe()}: {key!r} has shape {saved} in the checkpoint, {shape} in this '
                                  f'layer' + (f'; the checkpoint fits {fits}' if fits else ''))
                wrong_shape.append(key)
        return wrong_shape

    def _fitting_config(self, name: str, saved_shape: tuple) -> Optional[str]:
        """The arguments with which this layer's tensor ``name`` would have the checkpoint's ``saved_shape``,
        for the loading errors; None when the layer cannot tell. Here: a per-channel tensor fits a layer of as
        many channels."""
        if len(saved_shape) == 1 and getattr(self, name).shape == (self.num_features, ):
            return f'num_features={saved_shape[0]}'
        return None

    def _describe(self) -> str:
        return f'{type(self).__name__}({self.extra_repr()})'

    def _check_input(self, x: Tensor) -> None:
        if not 2 <= x.dim() <= 5:
            raise ValueError(f'{type(self).__name__} expects input of shape (N, C) or (N, C, *spatial) with '
                             f'1 to 3 spatial dims, got a {x.dim()}-d input of shape {tuple(x.shape)}')
        if x.size(1) != self.num_features:
            raise ValueError(f'{type(self).__name__}({self.num_features}) expects {self.num_features} '
                             f'channels (dim 1), got input of shape {tuple(x.shape)}')

    def _affine_params(self, dtype: torch.dtype) -> Tuple[Optional[Tensor], Optional[Tensor]]:
        """γ and β in the compute dtype, or (None, None) without an affine."""
        if not self.affine:
            return None, None
        if self.weight.dtype == dtype and self.bias.dtype == dtype:  # on small maps a layer's time is its calls
            return self.weight, self.bias
        return self.weight.to(dtype), self.bias.to(dtype)

    def _affine(self, y: Tensor) -> Tensor:
        weight, bias = self._affine_params(y.dtype)
        if weight is None:
            return y
        shape = (1, -1) + (1, ) * (y.dim() - 2)
        return torch.addcmul(bias.view(shape), y, weight.view(shape))

    def _normalize(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def _check_finite(self, x: Tensor) -> None:
        # Only under anomaly detection: the check reads the tensor back to the host, a sync per layer.
        # Not in a compiled graph: neither the anomaly-mode query nor the read-back (a data-dependent branch)
        # can be traced, and either would break the graph (torch.compile(fullgraph=True) fails on them).
        if is_compiling():
            return
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
        memory_format = _memory_format(x)
        compute_dtype = torch.float32 if x.dtype in _LOW_PRECISION else x.dtype
        with torch.autocast(device_type=x.device.type, enabled=False):
            y = self._normalize(x.to(compute_dtype))
            if not self._fuses_affine:
                y = self._affine(y)
        y = y.to(x.dtype)
        # A no-op when the math kept the layout (it does for contiguous inputs); channels_last inputs are
        # normalised through contiguous views and converted back here.
        return y.contiguous(memory_format=memory_format)


def _memory_format(x: Tensor) -> torch.memory_format:
    """The layout a layer's output is given: its input's, contiguous when that is ambiguous (C = 1 or 1x1
    maps) or neither contiguous nor channels_last."""
    if not x.is_contiguous():
        for dim, channels_last in ((4, torch.channels_last), (5, torch.channels_last_3d)):
            if x.dim() == dim and x.is_contiguous(memory_format=channels_last):
                return channels_last
    return torch.contiguous_format


class _GroupSizeMixin:
    """``group_size``, channels per group, for the layers that have one (GW, ItN, SWBN): asked for by
    ``group_size`` or by ``num_channels``, the name the GW and IterNorm authors give it, which stays
    readable (not settable: the layer's buffers are sized by it)."""

    @property
    def num_channels(self) -> int:
        return self.group_size

    def _fitting_config(self, name: str, saved_shape: tuple) -> Optional[str]:
        # The (C/d, d, d) and (C/d, d, 1) buffers of ItN and SWBN: d is the checkpoint's group size.
        if len(saved_shape) == 3 and getattr(self, name).dim() == 3:
            groups, size = saved_shape[:2]
            width = '' if groups * size == self.num_features else f'num_features={groups * size}, '
            return f'{width}group_size={size}'
        return super()._fitting_config(name, saved_shape)

    def _requested_group_size(self, group_size: Optional[int], num_channels: Optional[int],
                              default: Optional[int] = None, largest: Optional[int] = None) -> Optional[int]:
        """Channels per group as asked for by ``group_size`` or by ``num_channels``, the authors' name for
        it; ``default`` if neither is given. A value outside [1, ``largest``], or two that disagree, is a
        configuration problem (reported by :meth:`BaseNormLayer.config_problems`) and gives None."""
        given = {name: value for name, value in (('group_size', group_size), ('num_channels', num_channels))
                 if value is not None}
        if len(set(given.values())) > 1:
            self._group_size_problems = [
                f'group_size={group_size} and num_channels={num_channels} disagree (num_channels is the '
                f"authors' name for group_size; valid: one of them, or equal values)"]
            return None
        for name, value in given.items():
            if value < 1 or (largest is not None and value > largest):
                valid = '>= 1' if largest is None else f'1 to {largest}'
                self._group_size_problems = [f'{name}={value} (channels per group; valid: {valid})']
                return None
        return next(iter(given.values()), default)

    def _init_group_size(self, group_size: Optional[int], num_channels: Optional[int], default: int) -> None:
        """Set ``group_size`` (d, halved until it divides C: :func:`resolve_group_size`) and ``num_groups``
        (C/d), for the layers that whiten groups of d channels over the batch (ItN, SWBN)."""
        requested = self._requested_group_size(group_size, num_channels, default=default)
        self.group_size = resolve_group_size(self.num_features, 1 if requested is None else requested)
        self.num_groups = self.num_features // self.group_size


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
        self._check_values_per_statistic(x, count)
        var, mean = torch.var_mean(x, dim=dims, correction=0)
        return mean, var, count

    def _check_values_per_statistic(self, x: Tensor, count: int) -> None:
        """Batch statistics of one value are undefined: refuse them in training, as BatchNorm does."""
        if count < 2:
            raise ValueError(f'{type(self).__name__} needs more than 1 value per statistic in training (as '
                             f'BatchNorm), got input of shape {tuple(x.shape)}')

    def _standardize(self, x: Tensor, dims) -> Tensor:
        """(x − μ)/√(σ² + ε) with one statistic per index of the dims not reduced: batch statistics over
        `dims` in training (folded into the running ones), running statistics in evaluation."""
        if self._uses_batch_stats():
            mean, var, count = self._batch_stats(x, dims)
            self._update_running_stats(mean, var, count)
        else:
            mean, var, count = self.running_mean.to(x.dtype), self.running_var.to(x.dtype), None
        shape = [1 if d in dims else x.size(d) for d in range(x.dim())]
        return self._divide(x - mean.view(shape), var.view(shape), count)

    def _divide(self, xc: Tensor, var: Tensor, count) -> Tensor:
        """Centred values over √(var + ε): torch's BatchNorm. ``var`` is the biased variance of ``count``
        values, or the (unbiased) running variance when ``count`` is None; a layer with another convention
        overrides this."""
        return xc * torch.rsqrt(var + self.eps)

    def _update_running_stats(self, mean: Tensor, var: Tensor, count) -> None:
        """Fold a batch's mean and biased variance, computed over `count` values each, into the buffers."""
        if not (self.training and self.track_running_stats):
            return
        self.num_batches_tracked.add_(1)
        momentum = self.momentum
        if momentum is None and self.running_mean.dtype in _LOW_PRECISION:
            # lerp_ of a half buffer rounds a tensor weight to half, a Python float only to float32.
            momentum = 1.0 / float(self.num_batches_tracked)
        elif momentum is None:
            # 1/n as a tensor in the buffers' dtype, not 1.0 / float(n): reading n back is a host sync per layer
            # and, compiled, a data-dependent scalar in the graph. The same weight: float32(1/n) rounded once
            # equals 1/n rounded from float64 for every n < 2**24 (checked), and lerp_ takes either alike.
            momentum = self.num_batches_tracked.to(self.running_mean.dtype).reciprocal()
        if isinstance(count, Tensor):  # a count gathered across processes; reading it would sync the host
            unbiased = var * (count / (count - 1).clamp_min(1)).to(var.dtype)
        else:
            unbiased = var * (count / max(count - 1, 1))
        with torch.no_grad():
            self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), momentum)
            self.running_var.lerp_(unbiased.detach().to(self.running_var.dtype), momentum)
