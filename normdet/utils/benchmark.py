"""Forward+backward time and peak memory of normalization layers, seconds per training iteration of
detectors and seconds per inference call of models, measured side by side in one process.

Used by ``tools/analysis_tools/benchmark_norms.py`` (``make bench``), which formats the results, and by
``demo/compare_norms.py`` and ``tools/analysis_tools/benchmark_folding.py`` (inference). Each
benchmark is a :class:`BaseBenchmark`: :meth:`~BaseBenchmark.run_once` runs every candidate once (one
round), :meth:`~BaseBenchmark.run` discards some warm-up rounds and summarises the rest. Conventions, so
that numbers mean the same on every machine:

- Time: one training step of the layer alone, ``y = layer(x); y.backward(dy)``, in float32. The candidates
  of a row run interleaved (A, B, C, C, A, B, B, C, A, ...: each round in a new, seeded, order) after
  warm-up and each reports the median of its repeats, so a machine that slows down mid-run slows every
  candidate alike and no candidate always runs after the same one. Ratios are only ever taken
  between numbers of one row.
- The floor of a whitening layer: the five matmuls of 2·g·E floating-point operations each that its
  forward and backward cannot avoid (E the input's elements, g the whitened dimension: GW's groups,
  IterNorm's channels per group), timed as five ``bmm`` calls of those shapes, interleaved with the rest.
  The floor+Newton adds the g×g matmuls of the Newton iteration, forward and backward
  (:func:`newton_matmuls`: 3·(T−1) forward, 9·(T−1) backward, the backward recomputing the iterates), as
  that many ``bmm`` of (B, g, g) matrices, B = N for a layer that whitens each sample (GW), C/g for one
  that whitens each group over the batch (IterNorm): pure matmuls, none of the elementwise work.
- Saved for backward: the bytes of the tensors autograd keeps from the layer's forward for its backward,
  counted by ``torch.autograd.graph.saved_tensors_hooks`` around one training-mode forward: every tensor
  saved (by autograd's own nodes or ``ctx.save_for_backward``), the input, parameters and buffers
  included, each storage (``untyped_storage().data_ptr()``) counted once at its full ``nbytes``, so views of
  one tensor count once. Tensors a custom Function keeps as ``ctx`` attributes are not seen. nn.BatchNorm2d
  keeps about 1× the input (the input itself, plus per-channel vectors).
- Peak memory: the most memory allocated at once during the step, above what was allocated before it
  (input, upstream gradient, parameters); it includes the output and the input gradient, so any layer
  needs at least 2× the input. On CUDA this is ``torch.cuda.max_memory_allocated``; on CPU, where torch
  keeps no such counter, it is replayed from the allocation events of torch's CPU allocator recorded by
  ``torch.profiler`` (``profile_memory=True``): every tensor torch allocates, not the BLAS library's
  internal scratch.
- Training steps of detectors (:class:`TrainingIterationBenchmark`): ``model.train_step``, forward,
  backward and optimizer step, on the same batches, interleaved. :class:`TrainingStepBenchmark` does so at
  random initialisation (no pretrained weights: :func:`drop_pretrained`) on a synthetic batch
  (:func:`synthetic_batch`, e.g. one 800×1344 image), reporting the best of its rounds.
  :class:`CompiledIterationBenchmark` times each config eager and under ``torch.compile``, the warm-up
  (where compilation happens) reported apart from the steady state.

Example::

    result = LayerStepBenchmark('res4 3x3', (2, 256, 25, 42), ['GN', 'GW'], torch.device('cpu')).run()
    result.vs_gn('GW'), result.vs_floor('GW'), result.memory_ratio('GW')  # e.g. (9.6, 2.36, 2.26)
    result.vs_floor_newton('GW'), result.saved_ratio('GW')
"""
import contextlib
import copy
import logging
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

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


def newton_matmuls(iterations: int) -> Tuple[int, int]:
    """(forward, backward) counts of the (B, d, d) matmuls of the Newton iteration with T = `iterations`:
    :func:`~normdet.layers.whitening.newton_schulz_whitening` does 3 per iteration after the first (P², P³
    and the update; P_1 needs none), :func:`~normdet.layers.whitening.newton_schulz_whitening_backward`
    recomputes those 3 and adds 6 per iteration (dL/dP³, its dL/dΣ_N term, dL/dP² and three terms of
    dL/dP)."""
    steps = max(iterations - 1, 0)
    return 3 * steps, 9 * steps


def floor_step(layer: nn.Module, x: torch.Tensor, newton: bool = False) -> Optional[Callable[[], None]]:
    """The five matmuls of 2·g·E flops each that `layer`'s forward and backward on `x` need, as bmm calls
    on tensors laid out as the layer's matrices: (N, g, E/(N·g)) for a layer that whitens each sample
    (GW), (C/g, g, E·g/C) for one that whitens each group of g channels over the batch (IterNorm). With
    `newton`, also the g×g matmuls of the Newton iteration with the layer's T, forward and backward
    (:func:`newton_matmuls`), as bmm of (B, g, g) matrices, B the batch of the five. None for a layer that
    whitens nothing (``whitened_dim`` None or absent)."""
    g = getattr(layer, 'whitened_dim', None)
    if g is None:
        return None
    batch = x.size(0) if layer.whitens_each_sample else x.size(1) // g
    rows = torch.randn(batch, g, x.numel() // (batch * g), device=x.device)
    grad = torch.randn_like(rows)
    mat = torch.randn(batch, g, g, device=x.device)
    small = sum(newton_matmuls(layer.T)) if newton else 0
    # Well-conditioned (I + noise/g) so that repeated products stay finite.
    mat_b = torch.eye(g, device=x.device) + torch.randn(batch, g, g, device=x.device) / g

    def step():
        torch.bmm(rows, rows.transpose(1, 2))  # Σ
        torch.bmm(mat, rows)  # y = W·xc
        torch.bmm(grad, rows.transpose(1, 2))  # dL/dW
        torch.bmm(mat.transpose(1, 2), grad)  # dL/dx through W
        torch.bmm(mat, rows)  # dL/dx through Σ
        for _ in range(small):
            torch.bmm(mat_b, mat_b)

    return step


def saved_tensor_bytes(layer: nn.Module, x: torch.Tensor) -> int:
    """Bytes of the tensors autograd keeps for the backward of one forward of `layer` on `x` (which gets
    ``requires_grad``), each storage counted once; see the module docstring."""
    storages: Dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() != 0:
            storages[storage.data_ptr()] = storage.nbytes()
        return t

    x = x.detach().requires_grad_()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = layer(x)
    del out
    return sum(storages.values())


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


def allow_compilations(count: int) -> None:
    """Forget what torch.compile compiled before and let it compile one code object `count` times: every
    normdet layer's forward is the one ``BaseNormLayer.forward``, compiled once per layer instance, and
    torch stops at 8 (``recompile_limit``, ``cache_size_limit`` before torch 2.6)."""
    import torch._dynamo
    torch._dynamo.reset()
    config = torch._dynamo.config
    name = 'recompile_limit' if hasattr(config, 'recompile_limit') else 'cache_size_limit'
    setattr(config, name, max(getattr(config, name), count))


class BaseBenchmark:
    """Interleaved timing of several candidates (as ``mmdet.utils.benchmark.BaseBenchmark``, but with
    every candidate in each round, so that a machine slowing down mid-run slows them all alike).

    Subclasses implement :meth:`run_once`, one round: every candidate once, returning its seconds by name.
    :meth:`run` runs ``warmup`` rounds it discards, then ``repeats`` rounds, more while the timed rounds
    have taken less than ``min_seconds`` in all (at most 20·``repeats``: a median of a few millisecond
    steps is noise), and returns :meth:`summarise` of the ``{name: [seconds of each round]}`` they timed.
    """

    def __init__(self, repeats: int, warmup: int, min_seconds: float = 0.0):
        self.repeats = repeats
        self.warmup = warmup
        self.min_seconds = min_seconds

    def run_once(self) -> Dict[str, float]:
        raise NotImplementedError

    def run(self):
        times: Dict[str, List[float]] = {}
        self.warmup_times: Dict[str, List[float]] = {}  # the discarded rounds, for subclasses to report
        round_, timed = 0, 0.0
        while round_ < self.warmup + self.repeats or (timed < self.min_seconds and round_ < 20 * self.repeats):
            seconds = self.run_once()
            kept = times if round_ >= self.warmup else self.warmup_times
            for name, value in seconds.items():
                kept.setdefault(name, []).append(value)
            if round_ >= self.warmup:
                timed += sum(seconds.values())
            round_ += 1
        return self.summarise(times)

    def summarise(self, times: Dict[str, List[float]]):
        """The median seconds of each candidate."""
        return {name: statistics.median(ts) for name, ts in times.items()}


@dataclass
class LayerStepResult:
    """One input shape: per layer, median seconds, ratios to GN, to BN and to its floors, peak memory and
    bytes saved for backward (each / the input's bytes)."""
    name: str
    shape: Tuple[int, ...]
    seconds: Dict[str, float] = field(default_factory=dict)
    floor_seconds: Dict[str, float] = field(default_factory=dict)
    floor_newton_seconds: Dict[str, float] = field(default_factory=dict)
    compiled_seconds: Dict[str, float] = field(default_factory=dict)
    peak_bytes: Dict[str, int] = field(default_factory=dict)
    saved_bytes: Dict[str, int] = field(default_factory=dict)
    input_bytes: int = 0

    def vs_gn(self, name: str) -> Optional[float]:
        return self.seconds[name] / self.seconds['GN'] if 'GN' in self.seconds else None

    def vs_bn(self, name: str) -> Optional[float]:
        return self.seconds[name] / self.seconds['BN'] if 'BN' in self.seconds else None

    def compiled_vs_bn(self, name: str) -> Optional[float]:
        """The layer's compiled step over BN's eager one."""
        return self.compiled_seconds[name] / self.seconds['BN'] if 'BN' in self.seconds else None

    def vs_floor(self, name: str) -> Optional[float]:
        floor = self.floor_seconds.get(name)
        return self.seconds[name] / floor if floor else None

    def vs_floor_newton(self, name: str) -> Optional[float]:
        floor = self.floor_newton_seconds.get(name)
        return self.seconds[name] / floor if floor else None

    def memory_ratio(self, name: str) -> float:
        return self.peak_bytes[name] / self.input_bytes

    def saved_ratio(self, name: str) -> float:
        return self.saved_bytes[name] / self.input_bytes


class LayerStepBenchmark(BaseBenchmark):
    """The training step of each of `layers` (names of :data:`NORM_CFGS`) on one input shape, interleaved
    with the floors (five matmuls; and with the Newton iteration's) of the whitening layers; :meth:`run`
    then measures each step's peak memory and each forward's bytes saved for backward unless
    ``memory=False``.

    Args:
        name: what the shape is, e.g. ``'res4 3x3'`` (kept in the result).
        shape: the input's (N, C, H, W).
        layers: layer names; ``'GN'`` and ``'BN'`` among them give the ratios to GN and BN.
        device: where to run.
        repeats, warmup: timed and discarded rounds.
        memory: measure peak memory and the bytes saved for backward after timing.
        seed: of the input and upstream gradient.
        compile_backend: also time each layer under ``torch.compile(fullgraph=True)`` with this backend,
            interleaved with the eager steps (the first warm-up round compiles); None: eager only.
        min_seconds: more rounds than ``repeats`` until the timed ones take this long (small maps).
    """

    def __init__(self, name: str, shape: Sequence[int], layers: Sequence[str], device: torch.device,
                 repeats: int = 5, warmup: int = 2, memory: bool = True, seed: int = 0,
                 compile_backend: Optional[str] = None, min_seconds: float = 0.0):
        super().__init__(repeats, warmup, min_seconds)
        self.name, self.shape, self.device, self.memory = name, tuple(shape), device, memory
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(*shape, generator=gen).to(device)
        grad = torch.randn(*shape, generator=gen).to(device)
        self.x = x
        self.input_bytes = x.numel() * x.element_size()
        self.layers, self.layer_steps, self.floor_steps, self.floor_newton_steps = {}, {}, {}, {}
        for layer_name in layers:
            layer = build_layer(layer_name, shape[1]).to(device).train()
            self.layers[layer_name] = layer
            self.layer_steps[layer_name] = layer_step(layer, x, grad)
            floor = floor_step(layer, x)
            if floor is not None:
                self.floor_steps[layer_name] = floor
                self.floor_newton_steps[layer_name] = floor_step(layer, x, newton=True)
        self.order_rng = random.Random(seed)
        self.compiled_steps = {}
        if compile_backend is not None:
            if warmup < 1:
                raise ValueError(f'compile_backend={compile_backend!r} needs warmup >= 1 (the round that compiles '
                                 f'is discarded), got warmup={warmup}')
            allow_compilations(2 * len(layers))
            for layer_name in layers:
                layer = build_layer(layer_name, shape[1]).to(device).train()
                self.compiled_steps[layer_name] = layer_step(
                    torch.compile(layer, backend=compile_backend, fullgraph=True), x, grad)
        self.steps = {**self.layer_steps, **{f'floor:{k}': v for k, v in self.floor_steps.items()},
                      **{f'floor+N:{k}': v for k, v in self.floor_newton_steps.items()},
                      **{f'compiled:{k}': v for k, v in self.compiled_steps.items()}}

    def run_once(self) -> Dict[str, float]:
        # A new order each round (seeded), so that no step always follows the same one: on small maps the step
        # after GW's is slowed (at FPN P5, BGN timed after GW took 1.4x SyncBGN's time, the same code, and
        # SyncBGN 1.5x BGN's when the two swapped places).
        order = list(self.steps)
        self.order_rng.shuffle(order)
        seconds = {}
        for name in order:
            step = self.steps[name]
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
                               floor_seconds={k: seconds[f'floor:{k}'] for k in self.floor_steps},
                               floor_newton_seconds={k: seconds[f'floor+N:{k}'] for k in self.floor_newton_steps},
                               compiled_seconds={k: seconds[f'compiled:{k}'] for k in self.compiled_steps})

    def run(self) -> LayerStepResult:
        result = super().run()
        if self.memory:
            result.peak_bytes = {k: peak_memory(step, self.device) for k, step in self.layer_steps.items()}
            result.saved_bytes = {k: saved_tensor_bytes(layer, self.x) for k, layer in self.layers.items()}
        return result


class TrainingIterationBenchmark(BaseBenchmark):
    """Seconds per training iteration (forward, backward and optimizer step of ``model.train_step``) of
    several mmdet configs, measured interleaved in one process on the same batches.

    Data loading is left out (it is the same for every norm): `batches` batches of the first config's
    training data loader are loaded once and cycled, or the given `data`. :meth:`run` returns, per config
    name, the median and the quartiles of its iterations.

    Args:
        configs: ``{name: mmengine Config}``.
        iterations, warmup: timed and discarded iterations of each config.
        batches: how many batches to load and cycle.
        seed: of every model's initialisation and of the data loader.
        data: batches (``dict(inputs=[...], data_samples=[...])``) to cycle instead of the loader's.
        device: where the models run (their data preprocessors move each batch there).
    """

    def __init__(self, configs: Dict[str, object], iterations: int = 20, warmup: int = 3, batches: int = 4,
                 seed: int = 0, data: Optional[List[dict]] = None, device: Union[str, torch.device] = 'cpu'):
        super().__init__(iterations, warmup)
        self.device = torch.device(device)
        from mmengine.registry import init_default_scope
        from mmengine.runner import Runner

        import normdet  # noqa: F401  (registers the plugin types)

        init_default_scope('mmdet')
        if data is None:
            first = next(iter(configs.values()))
            loader = Runner.build_dataloader(first.train_dataloader, seed=seed)
            data = []
            for batch in loader:
                data.append(batch)
                if len(data) == batches:
                    break
        self.data = list(data)
        self.seed = seed
        self.models = {name: self.build(cfg) for name, cfg in configs.items()}
        self.iteration = 0

    def build(self, cfg) -> tuple:
        """(model in training mode, its optimizer wrapper) of `cfg`, initialised from ``self.seed``."""
        from mmengine.optim import build_optim_wrapper
        from mmengine.runner import set_random_seed

        from mmdet.registry import MODELS
        from mmengine.logging import MMLogger
        # init_weights and the optimizer constructor log (or warn about) every parameter
        loggers = [logging.getLogger('mmengine'), MMLogger.get_current_instance()]
        levels = [logger.level for logger in loggers]
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            set_random_seed(self.seed)
            model = MODELS.build(cfg.model)
            model.init_weights()
            model.to(self.device).train()
            return model, build_optim_wrapper(model, cfg.optim_wrapper)
        finally:
            for logger, level in zip(loggers, levels):
                logger.setLevel(level)

    def run_once(self) -> Dict[str, float]:
        seconds = {}
        batch = self.data[self.iteration % len(self.data)]
        for name, (model, optim_wrapper) in self.models.items():
            _sync(self.device)
            start = time.perf_counter()
            model.train_step(batch, optim_wrapper)
            _sync(self.device)
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


def drop_pretrained(cfg):
    """A copy of the mmengine Config `cfg` whose model loads no weights: every ``init_cfg`` entry of type
    ``Pretrained`` and every ``pretrained`` key under ``cfg.model`` removed, so ``init_weights`` gives the
    random initialisation of each module and nothing is read or downloaded."""
    cfg = copy.deepcopy(cfg)

    def is_pretrained(init):
        return isinstance(init, dict) and init.get('type') == 'Pretrained'

    def clean(node):
        if isinstance(node, dict):
            if 'pretrained' in node:
                node['pretrained'] = None
            init = node.get('init_cfg')
            if is_pretrained(init):
                node['init_cfg'] = None
            elif isinstance(init, (list, tuple)):
                node['init_cfg'] = [c for c in init if not is_pretrained(c)] or None
            for value in node.values():
                clean(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                clean(value)

    clean(cfg.model)
    return cfg


def synthetic_batch(height: int, width: int, num_boxes: int = 4, num_classes: int = 80, seed: int = 0) -> dict:
    """One training batch of one random ``height``×``width`` uint8 image with `num_boxes` random ground-truth
    boxes, labels and masks (``mmdet.testing.demo_mm_inputs``: an mmdet ``DetDataSample``), as a data
    loader gives it to ``model.train_step``. No files needed."""
    from mmdet.testing import demo_mm_inputs
    batch = demo_mm_inputs(batch_size=1, image_shapes=[(3, height, width)], num_items=[num_boxes],
                           num_classes=num_classes, with_mask=True)
    if seed:  # demo_mm_inputs always draws from seed 0
        gen = torch.Generator().manual_seed(seed)
        batch['inputs'] = [torch.randint(0, 256, (3, height, width), generator=gen, dtype=torch.uint8)]
    return dict(inputs=batch['inputs'], data_samples=batch['data_samples'])


class TrainingStepBenchmark(TrainingIterationBenchmark):
    """One training step of each of several detector configs at random initialisation (their
    ``Pretrained`` weights dropped: :func:`drop_pretrained`) on one synthetic image
    (:func:`synthetic_batch`), interleaved; :meth:`run` returns per config the best (least) seconds of its
    `repeats` steps and every step's seconds.

    Args:
        configs: ``{name: mmengine Config}`` (not modified).
        image_size: (height, width) of the image, e.g. (800, 1344) for COCO's 800×1333 padded to 32.
        repeats, warmup: timed and discarded steps of each config.
        num_boxes: ground-truth objects in the image.
        seed: of every model's initialisation.
        device: where the models run.
    """

    def __init__(self, configs: Dict[str, object], image_size: Tuple[int, int] = (800, 1344), repeats: int = 3,
                 warmup: int = 0, num_boxes: int = 4, seed: int = 0, device: Union[str, torch.device] = 'cpu'):
        configs = {name: drop_pretrained(cfg) for name, cfg in configs.items()}
        super().__init__(configs, iterations=repeats, warmup=warmup, seed=seed, device=device,
                         data=[synthetic_batch(*image_size, num_boxes=num_boxes)])
        self.image_size = tuple(image_size)

    def summarise(self, times: Dict[str, List[float]]) -> Dict[str, Dict[str, Union[float, List[float]]]]:
        return {name: dict(best=min(ts), rounds=list(ts)) for name, ts in times.items()}


# The modules of an mmdet two-stage detector compiled by CompiledIterationBenchmark (those absent are skipped).
COMPILED_MODULES = ('backbone', 'neck', 'rpn_head', 'roi_head.bbox_head', 'roi_head.mask_head')


def compile_modules(model: nn.Module, modules: Sequence[str] = COMPILED_MODULES, backend: str = 'inductor',
                    fullgraph: bool = False) -> List[str]:
    """Compile each of `modules` (dotted names) of `model` in place (``nn.Module.compile``: every call of
    the module runs compiled, while its other methods, e.g. a head's ``loss``, stay as they are); returns
    the names compiled."""
    done = []
    for name in modules:
        try:
            module = model.get_submodule(name)
        except AttributeError:
            continue
        module.compile(backend=backend, fullgraph=fullgraph)
        done.append(name)
    return done


class CompiledIterationBenchmark(TrainingIterationBenchmark):
    """Seconds per training iteration of each config eager and with :func:`compile_modules` applied, the
    two built from one seed and run interleaved on the same batches. Compilation happens in the first
    iterations, so the warm-up is reported too: :meth:`run` returns per config name and ``'eager'`` or
    ``'compiled'`` the median and quartiles of the timed iterations and ``warmup`` (total seconds of the
    discarded iterations); the compiled model's extra warm-up over the eager one's is the compile time.

    Args:
        configs: ``{name: mmengine Config}``.
        backend: ``torch.compile``'s backend (``'inductor'``; ``'aot_eager'`` or ``'eager'`` trace without
            generating code).
        modules: the submodules to compile.
        iterations, warmup, batches, seed, device: as :class:`TrainingIterationBenchmark`; `warmup` >= 1.
    """

    def __init__(self, configs: Dict[str, object], backend: str = 'inductor',
                 modules: Sequence[str] = COMPILED_MODULES, iterations: int = 20, warmup: int = 3,
                 batches: int = 4, seed: int = 0, device: Union[str, torch.device] = 'cpu'):
        if warmup < 1:
            raise ValueError('the compiled models need at least one warm-up iteration (it compiles them)')
        pairs = {}
        for name, cfg in configs.items():
            pairs[f'{name} eager'] = cfg
            pairs[f'{name} compiled'] = cfg
        super().__init__(pairs, iterations=iterations, warmup=warmup, batches=batches, seed=seed, device=device)
        self.backend, self.compiled = backend, {}
        for name in configs:
            self.compiled[name] = compile_modules(self.models[f'{name} compiled'][0], modules, backend)

    def summarise(self, times: Dict[str, List[float]]) -> Dict[str, Dict[str, Dict[str, float]]]:
        stats = super().summarise(times)
        result = {}
        for key, value in stats.items():
            name, mode = key.rsplit(' ', 1)
            value['warmup'] = sum(self.warmup_times[key])
            result.setdefault(name, {})[mode] = value
        return result
