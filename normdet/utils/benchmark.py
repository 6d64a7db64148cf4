"""Forward+backward time and peak memory of normalization layers, measured side by side in one process.

Used by ``tools/benchmark_norms.py`` (``make bench``). Conventions, so that numbers mean the same on every
machine:

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
"""
import contextlib
import copy
import json
import logging
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

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

# The operating point of issue 4's targets: GW with 64 groups and IterNorm with 64 channels per group,
# T = 5, on this input; both within 1.3× their floor and 3× the input's size in peak memory.
TARGET_SHAPE = (2, 256, 96, 128)
TARGET_TIME_RATIO = 1.3
TARGET_MEMORY_RATIO = 3.0

# Layer name -> norm_cfg for mmcv's build_norm_layer (the plugin types at their paper defaults), or a
# factory for torch's layers.
LAYERS: Dict[str, object] = {
    'GN': lambda c: nn.GroupNorm(32, c),
    'BN': lambda c: nn.BatchNorm2d(c),
    'GW': dict(type='GW', num_groups=64),
    'ItN': dict(type='ItN', num_channels=64),
    'BGN': dict(type='BGN', num_groups=32),
    'SyncBGN': dict(type='SyncBGN', num_groups=32),
    'GNPlus': dict(type='GNPlus', num_groups=32),
    'SWBN': dict(type='SWBN', num_channels=64),
}


def build_layer(name: str, channels: int) -> nn.Module:
    spec = LAYERS[name]
    if callable(spec):
        return spec(channels)
    from mmcv.cnn import build_norm_layer

    import normdet  # noqa: F401  (registers the plugin types)
    return build_norm_layer(dict(spec), channels)[1]


def whitened_dim(layer: nn.Module) -> Optional[int]:
    """g of the five-matmul floor for the whitening layers (GW: groups; ItN: channels per group)."""
    from normdet.layers import GroupWhitening, IterNorm
    if isinstance(layer, GroupWhitening):
        return layer.num_groups
    if isinstance(layer, IterNorm):
        return layer.num_channels
    return None


def floor_step(layer: nn.Module, x: torch.Tensor) -> Optional[Callable[[], None]]:
    """The five matmuls of 2·g·E flops each that `layer`'s forward and backward on `x` need, as bmm calls
    on tensors laid out as the layer's matrices: GW (N, g, E/(N·g)), IterNorm (C/d, d, E·d/C)."""
    from normdet.layers import GroupWhitening
    g = whitened_dim(layer)
    if g is None:
        return None
    batch = x.size(0) if isinstance(layer, GroupWhitening) else x.size(1) // g
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


def interleaved_medians(steps: Dict[str, Callable[[], None]], device: torch.device, repeats: int = 5,
                        warmup: int = 2) -> Dict[str, float]:
    """Median seconds of each step, the steps run in turn `repeats` times after `warmup` rounds."""
    times: Dict[str, List[float]] = {name: [] for name in steps}
    for round_ in range(warmup + repeats):
        for name, step in steps.items():
            _sync(device)
            start = time.perf_counter()
            step()
            _sync(device)
            if round_ >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


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


@dataclass
class Row:
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


def measure_row(name: str, shape: Sequence[int], layers: Sequence[str], device: torch.device,
                repeats: int = 5, warmup: int = 2, memory: bool = True, seed: int = 0) -> Row:
    """Time (interleaved, medians) and peak memory of each layer's training step on one input shape."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=gen).to(device)
    grad = torch.randn(*shape, generator=gen).to(device)
    steps, floors = {}, {}
    for layer_name in layers:
        layer = build_layer(layer_name, shape[1]).to(device).train()
        steps[layer_name] = layer_step(layer, x, grad)
        floor = floor_step(layer, x)
        if floor is not None:
            floors[layer_name] = floor
    seconds = interleaved_medians({**steps, **{f'floor:{k}': v for k, v in floors.items()}}, device, repeats, warmup)
    row = Row(name, tuple(shape), input_bytes=x.numel() * x.element_size())
    row.seconds = {k: seconds[k] for k in steps}
    row.floor_seconds = {k: seconds[f'floor:{k}'] for k in floors}
    if memory:
        row.peak_bytes = {k: peak_memory(step, device) for k, step in steps.items()}
    return row


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


def format_time_table(rows: Sequence[Row], layers: Sequence[str]) -> str:
    """Markdown: ms per forward+backward, with the ratio to GN and, for GW and ItN, to their floor."""
    lines = ['| shape | N×C×H×W | ' + ' | '.join(layers) + ' |', '|---|---|' + '---:|' * len(layers)]
    for row in rows:
        cells = [row.name, '×'.join(map(str, row.shape))]
        for k in layers:
            ratios = []
            if k != 'GN' and row.vs_gn(k) is not None:
                ratios.append(f'{row.vs_gn(k):.1f}×GN')
            if row.vs_floor(k) is not None:
                ratios.append(f'**{row.vs_floor(k):.2f}×floor**')
            cells.append(f'{row.seconds[k] * 1e3:.1f}' + (f' ({", ".join(ratios)})' if ratios else ''))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def format_memory_table(rows: Sequence[Row], layers: Sequence[str]) -> str:
    """Markdown: peak memory of the forward+backward step / the input's size."""
    lines = ['| shape | input MiB | ' + ' | '.join(layers) + ' |', '|---|---:|' + '---:|' * len(layers)]
    for row in rows:
        cells = [row.name, f'{row.input_bytes / 2**20:.1f}'] + [f'{row.memory_ratio(k):.2f}' for k in layers]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def to_json(report: dict) -> str:
    """The report as JSON, rows included (dataclasses become dicts)."""
    return json.dumps(report, indent=1, default=lambda obj: asdict(obj) if isinstance(obj, Row) else str(obj))


# ------------------------------------------------------------------------------------------ end to end
def with_norm_everywhere(cfg, norm_cfg: dict, under: Sequence[str] = ('model', )):
    """A copy of an mmdet config whose every ``norm_cfg`` below the given keys (dotted paths, default the
    whole model) is `norm_cfg`, set whole so that no argument of the old type survives."""
    cfg = copy.deepcopy(cfg)

    def replace(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == 'norm_cfg' and isinstance(value, dict):
                    node[key] = dict(norm_cfg)
                else:
                    replace(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                replace(value)

    for path in under:
        node = cfg
        for key in path.split('.'):
            node = node[key]
        replace(node)
    return cfg


def training_iteration_seconds(configs: Dict[str, object], iterations: int = 20, warmup: int = 3,
                               batches: int = 4, seed: int = 0) -> Dict[str, Dict[str, float]]:
    """Seconds per training iteration (forward, backward and optimizer step of ``model.train_step``) of
    several mmdet configs, measured interleaved in one process on the same batches.

    Data loading is left out (it is the same for every norm): `batches` batches of the first config's
    training data loader are loaded once and cycled. Returns, per config name, the median and the
    quartiles of its iterations.
    """
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner, set_random_seed

    import normdet  # noqa: F401
    from mmdet.registry import MODELS

    init_default_scope('mmdet')
    first = next(iter(configs.values()))
    if 'shapes_cfg' in first:
        from normdet.datasets import generate_shapes_dataset
        generate_shapes_dataset(first.data_root, **first.shapes_cfg)
    loader = Runner.build_dataloader(first.train_dataloader, seed=seed)
    data = []
    for batch in loader:
        data.append(batch)
        if len(data) == batches:
            break
    models = {}
    logger = logging.getLogger('mmengine')
    level = logger.level
    logger.setLevel(logging.WARNING)  # init_weights and the optimizer constructor log every parameter
    try:
        for name, cfg in configs.items():
            set_random_seed(seed)
            model = MODELS.build(cfg.model)
            model.init_weights()
            model.train()
            models[name] = (model, build_optim_wrapper(model, cfg.optim_wrapper))
    finally:
        logger.setLevel(level)
    times: Dict[str, List[float]] = {name: [] for name in configs}
    for it in range(warmup + iterations):
        for name, (model, optim_wrapper) in models.items():
            start = time.perf_counter()
            model.train_step(data[it % len(data)], optim_wrapper)
            if it >= warmup:
                times[name].append(time.perf_counter() - start)
    result = {}
    for name, ts in times.items():
        q1, median, q3 = statistics.quantiles(ts, n=4)
        result[name] = dict(median=statistics.median(ts), q1=q1, q3=q3)
    return result


# ------------------------------------------------------------------------------------------ conditions
def reuse_freed_memory() -> bool:
    """Make glibc keep freed memory for reuse instead of returning it to the OS (as jemalloc, tcmalloc and
    torch's CUDA caching allocator do). Without it, every full-size tensor of a step is a fresh mapping
    whose pages fault in on first touch; in a VM that costs up to 20 µs a page and varies from run to run,
    swamping the differences this benchmark measures. Returns False where glibc is not the allocator."""
    try:
        import ctypes
        libc = ctypes.CDLL('libc.so.6')
        m_trim_threshold, m_mmap_max = -1, -4  # mallopt parameters: keep up to 2 GiB free at the top, never mmap
        return bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, 2**31 - 1))
    except (OSError, AttributeError):
        return False


class OtherLoad:
    """CPU time used by other processes while the benchmark runs, in cores (Linux; None elsewhere): timings
    on a shared machine are only comparable when this stays near 0."""

    def __init__(self):
        self.start = self._sample()

    @staticmethod
    def _sample():
        try:
            with open('/proc/stat') as f:
                fields = [int(v) for v in f.readline().split()[1:]]
        except OSError:
            return None
        busy = sum(fields) - fields[3] - fields[4]  # all but idle and iowait, in clock ticks
        own = sum(os.times()[:4]) * os.sysconf('SC_CLK_TCK')
        return busy, own, time.monotonic()

    def cores(self) -> Optional[float]:
        end = self._sample()
        if self.start is None or end is None:
            return None
        busy, own, wall = (b - a for a, b in zip(self.start, end))
        return max(0.0, (busy - own) / os.sysconf('SC_CLK_TCK') / wall) if wall > 0 else None


# ------------------------------------------------------------------------------------------ reporting
def machine_info(device: torch.device) -> dict:
    import platform
    info = dict(torch=torch.__version__, device=str(device), threads=torch.get_num_threads(),
                python=platform.python_version())
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
    else:
        try:
            with open('/proc/cpuinfo') as f:
                names = [line.split(':', 1)[1].strip() for line in f if line.startswith('model name')]
            info['cpu'] = f'{names[0]} ×{len(names)}' if names else platform.processor()
        except OSError:
            info['cpu'] = platform.processor()
    return info


def plot_rows(rows: Sequence[Row], layers: Sequence[str], path: str, title: str = '') -> None:
    """Bar charts: time per forward+backward relative to GN, and peak memory relative to the input."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np

    panels = 2 if rows[0].peak_bytes else 1
    fig, axes = plt.subplots(panels, 1, figsize=(max(8, 0.9 * len(rows) + 3), 4 * panels), sharex=True,
                             squeeze=False)
    axes = axes[:, 0]
    xs = np.arange(len(rows))
    width = 0.8 / len(layers)
    for i, name in enumerate(layers):
        offset = (i - (len(layers) - 1) / 2) * width
        axes[0].bar(xs + offset, [r.seconds[name] / r.seconds['GN'] for r in rows], width, label=name)
        if rows[0].peak_bytes:
            axes[1].bar(xs + offset, [r.memory_ratio(name) for r in rows], width, label=name)
        floors = [r.floor_seconds[name] / r.seconds['GN'] if name in r.floor_seconds else np.nan for r in rows]
        if not all(np.isnan(floors)):
            axes[0].scatter(xs + offset, floors, marker='_', s=120, color='black', zorder=3)
    axes[0].set_yscale('log')
    axes[0].axhline(1.0, color='grey', lw=0.8)
    axes[0].set_ylabel('forward+backward time / GN\n(black ticks: the five-matmul floor)')
    axes[0].legend(ncol=len(layers), fontsize=8)
    if panels == 2:
        axes[1].set_ylabel('peak memory / input size')
    axes[-1].set_xticks(xs)
    axes[-1].set_xticklabels([r.name for r in rows], rotation=30, ha='right')
    if title:
        axes[0].set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def format_targets(row: Row) -> List[str]:
    lines = []
    for name in ('GW', 'ItN'):
        if name not in row.seconds:
            continue
        time_ratio = row.vs_floor(name)
        line = f'{name}: {time_ratio:.2f}× its five-matmul floor (target ≤ {TARGET_TIME_RATIO}×)'
        ok = time_ratio <= TARGET_TIME_RATIO
        if row.peak_bytes:
            mem_ratio = row.memory_ratio(name)
            line += f', peak memory {mem_ratio:.2f}× the input (target ≤ {TARGET_MEMORY_RATIO:.0f}×)'
            ok = ok and mem_ratio <= TARGET_MEMORY_RATIO
        lines.append(line + (': met' if ok else ': NOT met'))
    return lines


def format_e2e(result: Dict[str, Dict[str, float]], baseline: str = 'GN') -> str:
    lines = ['| model | s / iteration (median, quartiles) | × GN |', '|---|---|---|']
    for name, stats in result.items():
        lines.append(f"| {name} | {stats['median']:.3f} ({stats['q1']:.3f}–{stats['q3']:.3f}) | "
                     f"{stats['median'] / result[baseline]['median']:.2f} |")
    return '\n'.join(lines)
