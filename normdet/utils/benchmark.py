"""Forward+backward time and peak memory of normalization layers, seconds per training iteration of
detectors and seconds per inference call of models, measured side by side in one process.

Used by ``tools/analysis_tools/benchmark_norms.py`` (``make bench``), which formats the results, and by
``demo/compare_norms.py`` and ``tools/analysis_tools/benchmark_folding.py`` (inference). Each
benchmark is a :class:`BaseBenchmark`: :meth:`~BaseBenchmark.run_once` runs every candidate once (one
round), :meth:`~BaseBenchmark.run` discards some warm-up rounds and summarises the rest. Conventions, so
that numbers mean the same on every machine:

- Time: one training step of the layer alone, ``y = layer(x); y.backward(dy)``, in float32. The candidates
  of a row run interleaved (A, B, C, A, B, C, ...) after warm-up and each reports the median of its
  repeats, so a machine that slows down mid-run slows every candidate alike. Ratios are only ever taken
  between numbers of one row.
- The floor of a whitening layer: the five matmuls of 2·g·E floating-point operations each that its
  forward and backward cannot avoid (E the input's elements, g the whitened dimension: GW's groups,
  IterNorm's channels per group), timed as five ``bmm`` calls of those shapes, interleaved with the rest.
- Peak memory: the most memory allocated at once during the step, above what was allocated before it
  (input, upstream gradient, parameters); it includes the output and the input gradient, so any layer
  needs at least 2× the input. On CUDA this is ``torch.cuda.max_memory_allocated``; on CPU, where torch
  keeps no such counter, it is replayed from the allocation events of torch's CPU allocator recorded by
  ``torch.profiler`` (``profile_memory=True``): every tensor torch allocates, not the BLAS library's
  internal scratch.

Example::

    result = LayerStepBenchmark('res4 3x3', (2, 256, 25, 42), ['GN', 'GW'], torch.device('cpu')).run()
    result.vs_gn('GW'), result.vs_floor('GW'), result.memory_ratio('GW')  # e.g. (9.6, 2.36, 2.26)
"""
import contextlib
import logging
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from normdet.layers import NORM_TYPES, paper_norm_cfg

# (name, channels, height, width, count): the tensors a norm layer sees in a ResNet-50-FPN Mask R-CNN
# training step on 2 images of 800×1333 padded to 800×1344 (count = 2 images, or the RoIs of the 2 images:
# 512 sampled per image for the box head, up to 128 positives per image for the mask head).
MASK_RCNN_R50_FPN_SHAPES: Tuple[Tuple[str, int, int, int, int], ...] = (
    ('stem', 64, 400, 672, 2),
    ('res2 3x3', 64, 200, 336, 2),
    ('res2 out', 256, 200, 336, 2),
    ('res3 3x3', 128, 100, 168, 2),
    ('res3 out', 512, 100, 168, 2),
    ('res4 3x3', 256, 50, 84, 2),
    ('res4 out', 1024, 50, 84, 2),
    ('res5 3x3', 512, 25, 42, 2),
    ('res5 out', 2048, 25, 42, 2),
    ('FPN P2', 256, 200, 336, 2),
    ('FPN P3', 256, 100, 168, 2),
    ('FPN P4', 256, 50, 84, 2),
    ('FPN P5', 256, 25, 42, 2),
    ('box head', 256, 7, 7, 1024),
    ('mask head', 256, 14, 14, 256),
)

# Layer name -> norm_cfg for mmcv's build_norm_layer: torch's GroupNorm (32 groups, the ratios' baseline)
# and BatchNorm2d, then every normdet type at its papers' defaults, in the registry's order.
NORM_CFGS: Dict[str, dict] = {
    'GN': dict(type='GN', num_groups=32),
    'BN': dict(type='BN'),
    **{norm_type: paper_norm_cfg(norm_type) for norm_type in NORM_TYPES},
}


def build_layer(name: str, channels: int) -> nn.Module:
    """The layer ``NORM_CFGS[name]`` for `channels` channels."""
    from mmcv.cnn import build_norm_layer
    return build_norm_layer(dict(NORM_CFGS[name]), channels)[1]


def floor_step(layer: nn.Module, x: torch.Tensor) -> Optional[Callable[[], None]]:
    """The five matmuls of 2·g·E flops each that `layer`'s forward and backward on `x` need, as bmm calls
    on tensors laid out as the layer's matrices: (N, g, E/(N·g)) for a layer that whitens each sample
    (GW), (C/g, g, E·g/C) for one that whitens each group of g channels over the batch (IterNorm).
    None for a layer that whitens nothing (``whitened_dim`` None or absent)."""
    g = getattr(layer, 'whitened_dim', None)
    if g is None:
        return None
    batch = x.size(0) if layer.whitens_each_sample else x.size(1) // g
    rows = torch.randn(batch, g, x.numel() // (batch * g), device=x.device)
    grad = torch.randn_like(rows)
    mat = torch.randn(batch, g, g, device=x.device)

    def step():
        torch.bmm(rows, rows.transpose(1, 2))  # Σ
        torch.bmm(mat, rows)  # y = W·xc
        torch.bmm(grad, rows.transpose(1, 2))  # dL/dW
        torch.bmm(mat.transpose(1, 2), grad)  # dL/dx through W
        torch.bmm(mat, rows)  # dL/dx through Σ

    return step


def layer_step(layer: nn.Module, x: torch.Tensor, grad: torch.Tensor) -> Callable[[], None]:
    """One training step of `layer` alone: forward on `x`, backward of `grad`, gradients cleared."""
    x = x.detach().requires_grad_()

    def step():
        layer(x).backward(grad)
        x.grad = None
        for p in layer.parameters():
            p.grad = None

    return step


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def peak_memory(step: Callable[[], None], device: torch.device) -> int:
    """Bytes allocated at the peak of `step`, above the memory allocated when it starts (see the module
    docstring for how this is measured on CPU)."""
    if device.type == 'cuda':
        _sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        step()
        _sync(device)
        return torch.cuda.max_memory_allocated(device) - base
    from torch.profiler import ProfilerActivity, profile
    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == '[memory]']
    events.sort(key=lambda e: e.start_ns())
    current = peak = 0
    for event in events:
        if event.device_type() == torch.autograd.DeviceType.CPU:
            current += event.nbytes()
            peak = max(peak, current)
    return peak


@contextlib.contextmanager
def _quiet_stderr():
    """Silence the profiler's start/stop lines, which its C++ side writes to file descriptor 2."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, 'w') as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def scaled_shapes(scale: float) -> List[Tuple[str, Tuple[int, int, int, int]]]:
    """The Mask R-CNN shapes with feature maps scaled by `scale` per side and RoI counts by scale²."""
    shapes = []
    for name, channels, height, width, count in MASK_RCNN_R50_FPN_SHAPES:
        if 'head' in name:
            count = max(2, round(count * scale * scale))
        else:
            height, width = max(1, round(height * scale)), max(1, round(width * scale))
        shapes.append((name, (count, channels, height, width)))
    return shapes


class BaseBenchmark:
    """Interleaved timing of several candidates (as ``mmdet.utils.benchmark.BaseBenchmark``, but with
    every candidate in each round, so that a machine slowing down mid-run slows them all alike).

    Subclasses implement :meth:`run_once`, one round: every candidate once, returning its seconds by name.
    :meth:`run` runs ``warmup`` rounds it discards, then ``repeats`` rounds, and returns
    :meth:`summarise` of the ``{name: [seconds of each round]}`` they timed.
    """

    def __init__(self, repeats: int, warmup: int):
        self.repeats = repeats
        self.warmup = warmup

    def run_once(self) -> Dict[str, float]:
        raise NotImplementedError

    def run(self):
        times: Dict[str, List[float]] = {}
        for round_ in range(self.warmup + self.repeats):
            seconds = self.run_once()
            if round_ >= self.warmup:
                for name, value in seconds.items():
                    times.setdefault(name, []).append(value)
        return self.summarise(times)

    def summarise(self, times: Dict[str, List[float]]):
        """The median seconds of each candidate."""
        return {name: statistics.median(ts) for name, ts in times.items()}


@dataclass
class LayerStepResult:
    """One input shape: per layer, median seconds, ratio to GN, ratio to its floor and peak memory / input."""
    name: str
    shape: Tuple[int, ...]
    seconds: Dict[str, float] = field(default_factory=dict)
    floor_seconds: Dict[str, float] = field(default_factory=dict)
    peak_bytes: Dict[str, int] = field(default_factory=dict)
    input_bytes: int = 0

    def vs_gn(self, name: str) -> Optional[float]:
        return self.seconds[name] / self.seconds['GN'] if 'GN' in self.seconds else None

    def vs_floor(self, name: str) -> Optional[float]:
        floor = self.floor_seconds.get(name)
        return self.seconds[name] / floor if floor else None

    def memory_ratio(self, name: str) -> float:
        return self.peak_bytes[name] / self.input_bytes


class LayerStepBenchmark(BaseBenchmark):
    """The training step of each of `layers` (names of :data:`NORM_CFGS`) on one input shape, interleaved
    with the floors of the whitening layers; :meth:`run` then measures each step's peak memory unless
    ``memory=False``.

    Args:
        name: what the shape is, e.g. ``'res4 3x3'`` (kept in the result).
        shape: the input's (N, C, H, W).
        layers: layer names; ``'GN'`` among them gives the ratios to GN.
        device: where to run.
        repeats, warmup: timed and discarded rounds.
        memory: measure peak memory after timing.
        seed: of the input and upstream gradient.
    """

    def __init__(self, name: str, shape: Sequence[int], layers: Sequence[str], device: torch.device,
                 repeats: int = 5, warmup: int = 2, memory: bool = True, seed: int = 0):
        super().__init__(repeats, warmup)
        self.name, self.shape, self.device, self.memory = name, tuple(shape), device, memory
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(*shape, generator=gen).to(device)
        grad = torch.randn(*shape, generator=gen).to(device)
        self.input_bytes = x.numel() * x.element_size()
        self.layer_steps, self.floor_steps = {}, {}
        for layer_name in layers:
            layer = build_layer(layer_name, shape[1]).to(device).train()
            self.layer_steps[layer_name] = layer_step(layer, x, grad)
            floor = floor_step(layer, x)
            if floor is not None:
                self.floor_steps[layer_name] = floor
        self.steps = {**self.layer_steps, **{f'floor:{k}': v for k, v in self.floor_steps.items()}}

    def run_once(self) -> Dict[str, float]:
        seconds = {}
        for name, step in self.steps.items():
            _sync(self.device)
            start = time.perf_counter()
            step()
            _sync(self.device)
            seconds[name] = time.perf_counter() - start
        return seconds

    def summarise(self, times: Dict[str, List[float]]) -> LayerStepResult:
        seconds = super().summarise(times)
        return LayerStepResult(self.name, self.shape, input_bytes=self.input_bytes,
                               seconds={k: seconds[k] for k in self.layer_steps},
                               floor_seconds={k: seconds[f'floor:{k}'] for k in self.floor_steps})

    def run(self) -> LayerStepResult:
        result = super().run()
        if self.memory:
            result.peak_bytes = {k: peak_memory(step, self.device) for k, step in self.layer_steps.items()}
        return result


class TrainingIterationBenchmark(BaseBenchmark):
    """Seconds per training iteration (forward, backward and optimizer step of ``model.train_step``) of
    several mmdet configs, measured interleaved in one process on the same batches.

    Data loading is left out (it is the same for every norm): `batches` batches of the first config's
    training data loader are loaded once and cycled. :meth:`run` returns, per config name, the median and
    the quartiles of its iterations.

    Args:
        configs: ``{name: mmengine Config}``.
        iterations, warmup: timed and discarded iterations of each config.
        batches: how many batches to load and cycle.
        seed: of every model's initialisation and of the data loader.
    """

    def __init__(self, configs: Dict[str, object], iterations: int = 20, warmup: int = 3, batches: int = 4,
                 seed: int = 0):
        super().__init__(iterations, warmup)
        from mmengine.optim import build_optim_wrapper
        from mmengine.registry import init_default_scope
        from mmengine.runner import Runner, set_random_seed

        import normdet  # noqa: F401  (registers the plugin types)
        from mmdet.registry import MODELS

        init_default_scope('mmdet')
        first = next(iter(configs.values()))
        loader = Runner.build_dataloader(first.train_dataloader, seed=seed)
        self.data = []
        for batch in loader:
            self.data.append(batch)
            if len(self.data) == batches:
                break
        self.models = {}
        logger = logging.getLogger('mmengine')
        level = logger.level
        logger.setLevel(logging.WARNING)  # init_weights and the optimizer constructor log every parameter
        try:
            for name, cfg in configs.items():
                set_random_seed(seed)
                model = MODELS.build(cfg.model)
                model.init_weights()
                model.train()
                self.models[name] = (model, build_optim_wrapper(model, cfg.optim_wrapper))
        finally:
            logger.setLevel(level)
        self.iteration = 0

    def run_once(self) -> Dict[str, float]:
        seconds = {}
        batch = self.data[self.iteration % len(self.data)]
        for name, (model, optim_wrapper) in self.models.items():
            start = time.perf_counter()
            model.train_step(batch, optim_wrapper)
            seconds[name] = time.perf_counter() - start
        self.iteration += 1
        return seconds

    def summarise(self, times: Dict[str, List[float]]) -> Dict[str, Dict[str, float]]:
        return {name: quartiles(ts) for name, ts in times.items()}


class InferenceBenchmark(BaseBenchmark):
    """Seconds per inference call of several models in evaluation mode on the same data, interleaved in one
    process, under ``torch.no_grad()``.

    Each model is called as ``forward(model, data)``; the default, ``model.test_step(data)``, is a
    detector's whole test-time path on a batch of its test data loader: the data preprocessor (normalise,
    pad), backbone, neck, RPN, RoI heads and the postprocessing (NMS, box rescaling, mask pasting).
    :meth:`run` returns, per model name, the median and the quartiles of its timed calls.

    Args:
        models: ``{name: model}``, put in evaluation mode.
        data: what every call gets, e.g. a batch of one image of the test data loader.
        repeats, warmup: timed and discarded rounds.
        forward: how a model is called on ``data`` (default ``model.test_step(data)``).
    """

    def __init__(self, models: Dict[str, nn.Module], data, repeats: int = 11, warmup: int = 2,
                 forward: Optional[Callable[[nn.Module, object], object]] = None):
        super().__init__(repeats, warmup)
        self.models = {name: model.eval() for name, model in models.items()}
        self.data = data
        self.forward = forward or (lambda model, data: model.test_step(data))

    def run_once(self) -> Dict[str, float]:
        seconds = {}
        with torch.no_grad():
            for name, model in self.models.items():
                device = next(model.parameters()).device
                _sync(device)
                start = time.perf_counter()
                self.forward(model, self.data)
                _sync(device)
                seconds[name] = time.perf_counter() - start
        return seconds

    def summarise(self, times: Dict[str, List[float]]) -> Dict[str, Dict[str, float]]:
        return {name: quartiles(ts) for name, ts in times.items()}


def quartiles(values: Sequence[float]) -> Dict[str, float]:
    """``{'median', 'q1', 'q3'}`` of ``values`` (one value: all three are it)."""
    if len(values) < 2:
        return dict(median=values[0], q1=values[0], q3=values[0])
    q1, _, q3 = statistics.quantiles(values, n=4)
    return dict(median=statistics.median(values), q1=q1, q3=q3)
