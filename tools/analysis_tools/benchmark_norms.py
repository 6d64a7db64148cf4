"""Forward+backward time, peak memory and bytes saved for backward of every normdet layer, nn.GroupNorm and
nn.BatchNorm2d at the shapes of a ResNet-50-FPN Mask R-CNN (2 images), the issue-4 and issue-12 targets,
and seconds per training iteration of the demo Mask R-CNN with GN everywhere, GW everywhere and GW in the
paper's placement (with --compile: each demo config eager and under torch.compile).

    python tools/analysis_tools/benchmark_norms.py      # `make bench`: scale 1 on CUDA, 0.5 per side on CPU
    python tools/analysis_tools/benchmark_norms.py --device cuda --scale 1
    python tools/analysis_tools/benchmark_norms.py --scale 0.25 --no-e2e --layers GN BN GW ItN
    python tools/analysis_tools/benchmark_norms.py --no-shapes --no-e2e --compile   # eager vs compiled
    python tools/analysis_tools/benchmark_norms.py --no-shapes --no-e2e --compile-layers   # each layer, small maps
    python tools/analysis_tools/benchmark_norms.py --coco-step    # one COCO-size training step per config

Writes <out>.json, <out>.md (the tables) and <out>.png (the chart); --coco-step only runs the training
steps of the paper's COCO configs and writes results/bench_coco_step.md/.json. See
normdet/utils/benchmark.py for what is measured and how.
"""
import argparse
import json
import os
import os.path as osp
import sys
from dataclasses import asdict, is_dataclass
from typing import Dict, List, Sequence

import torch
from mmengine.config import Config

from normdet.layers import paper_norm_cfg
from normdet.utils import benchmark as bench
from normdet.utils.machine import OtherLoad, machine_info, reuse_freed_memory
from normdet.utils.norm_cfgs import replace_norm_cfgs

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'configs', 'demo', 'mask-rcnn_r18-w32_fpn_{}_400it_shapes.py')

# The operating point of issue 4's targets: GW with 64 groups and IterNorm with 64 channels per group,
# T = 5, on this input; both within 1.3× their floor and 3× the input's size in peak memory.
TARGET_SHAPE = (2, 256, 96, 128)
TARGET_WHITENING = ('GW', 'ItN')
TARGET_LAYERS = ('GN', ) + TARGET_WHITENING  # GN: the ratios' baseline
TARGET_TIME_RATIO = 1.3
TARGET_MEMORY_RATIO = 3.0

# Issue 12's targets, at every shape of the table: the batch-statistics layers within 1.5× BatchNorm's
# time, keeping at most 1.5× the input for backward and peaking at 3× the input; GW and ItN within 1.3×
# their floor+Newton.
TARGET12_BATCH_LAYERS = ('BGN', 'SyncBGN', 'GNPlus', 'SWBN')
TARGET12_BN_RATIO = 1.5
TARGET12_SAVED_RATIO = 1.5
TARGET12_PEAK_RATIO = 3.0
TARGET12_FLOOR_NEWTON_RATIO = 1.3

# Issue 12's COCO-scale training steps: (key, title, baseline, {name: config under configs/}, repeats
# (best of), target ratio or None).
COCO_GROUPS = (
    ('faster-gw', 'Faster R-CNN R-50-FPN 4conv1fc (GW paper, Table 2)', 'GN', {
        'GW': 'gw/faster-rcnn-4conv1fc_r50_fpn_gw_90k_coco.py',
        'GN': 'gw/faster-rcnn-4conv1fc_r50_fpn_gn_90k_coco.py'}, 3, 1.10),
    ('mask-x101', 'Mask R-CNN X-101-32x8d-FPN 4conv1fc (GW paper, Table 3)', 'GN', {
        'GW': 'gw/mask-rcnn-4conv1fc_x101-32x8d_fpn_gw_180k_coco.py',
        'GN': 'gw/mask-rcnn-4conv1fc_x101-32x8d_fpn_gn_180k_coco.py'}, 2, None),
    ('faster-bn-frozen', 'Faster R-CNN R-50-FPN 4conv1fc, other norms', 'BN-frozen', {
        'BN-frozen': 'gw/faster-rcnn-4conv1fc_r50_fpn_bn-frozen_90k_coco.py',
        'BGN': 'bgn/faster-rcnn-4conv1fc_r50_fpn_bgn_90k_coco.py',
        'GNPlus': 'gnplus/faster-rcnn-4conv1fc_r50_fpn_gnplus_90k_coco.py',
        'ItN': 'itn/faster-rcnn-4conv1fc_r50_fpn_itn_90k_coco.py',
        'SWBN': 'swbn/faster-rcnn-4conv1fc_r50_fpn_swbn_90k_coco.py'}, 2, None),
)
COCO_OUT = osp.join(REPO, 'results', 'bench_coco_step')

# The shapes of --compile-layers: the smallest maps, where a layer's step is its per-call overhead (a few
# dozen small operations), which compiling fuses.
COMPILE_LAYER_SHAPES = ('res5 3x3', 'FPN P5')

# The demo configs of --compile, by norm.
COMPILE_NORMS = ('bn', 'gn', 'bgn', 'gnplus', 'gw-paper', 'itn', 'swbn')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', help='default cuda where available, else cpu; cpu with --coco-step')
    parser.add_argument('--scale', type=float, help='feature-map side scale (RoI counts scale by its square); '
                        'default 1 on CUDA, 0.5 on CPU')
    parser.add_argument('--layers', nargs='+', default=list(bench.NORM_CFGS), choices=list(bench.NORM_CFGS))
    parser.add_argument('--repeats', type=int, default=7, help='timed rounds per shape (median); >= 5')
    parser.add_argument('--min-seconds', type=float, default=1.0,
                        help='per shape, more rounds than --repeats (up to 20x) until the timed ones take this '
                        'long: the small maps, whose steps take milliseconds')
    parser.add_argument('--no-memory', action='store_true', help='skip the peak-memory pass')
    parser.add_argument('--no-shapes', action='store_true', help='only the targets (and --e2e)')
    parser.add_argument('--no-e2e', action='store_true', help='skip the training iterations of the demo model')
    parser.add_argument('--e2e-iters', type=int, default=20)
    parser.add_argument('--gn-config', default=DEMO.format('gn'), help='the demo config with GN')
    parser.add_argument('--gw-paper-config', default=DEMO.format('gw-paper'),
                        help='the demo config with GW at the paper\'s backbone positions')
    parser.add_argument('--keep-malloc', action='store_true',
                        help="CPU: leave glibc's default of returning freed memory to the OS (see "
                        'normdet.utils.machine.reuse_freed_memory)')
    parser.add_argument('--compile', action='store_true',
                        help='also time the demo detector of each --compile-norms eager and under torch.compile')
    parser.add_argument('--compile-norms', nargs='+', default=list(COMPILE_NORMS), choices=COMPILE_NORMS)
    parser.add_argument('--compile-backend', default='inductor', help="torch.compile's backend")
    parser.add_argument('--compile-layers', action='store_true',
                        help='also time each --layers eager and compiled (fullgraph) at the smallest maps, '
                        'COMPILE_LAYER_SHAPES, where per-call overhead decides a layer\'s time')
    parser.add_argument('--coco-step', action='store_true',
                        help='only the COCO-size training steps of the paper configs (see COCO_GROUPS)')
    parser.add_argument('--coco-groups', nargs='+', default=[g[0] for g in COCO_GROUPS],
                        choices=[g[0] for g in COCO_GROUPS])
    parser.add_argument('--coco-size', type=int, nargs=2, default=(800, 1344), metavar=('H', 'W'))
    parser.add_argument('--coco-repeats', type=int, help="steps per config (best of); default each group's")
    parser.add_argument('--coco-rois', type=int,
                        help="RPN proposals kept and RoIs sampled per image; default the configs' (2000/1000, 512)")
    parser.add_argument('--out', help='output path without extension; default results/bench, '
                        'results/bench_coco_step with --coco-step')
    args = parser.parse_args()
    if args.device is None:
        args.device = 'cuda' if torch.cuda.is_available() and not args.coco_step else 'cpu'
    if args.out is None:
        args.out = COCO_OUT if args.coco_step else osp.join(REPO, 'results', 'bench')
    return args


# ------------------------------------------------------------------------------------------ reporting
def format_time_table(rows: Sequence[bench.LayerStepResult], layers: Sequence[str]) -> str:
    """Markdown: ms per forward+backward, with the ratios to GN and BN and, for GW and ItN, to their floor
    (five matmuls) and floor+Newton (and the Newton iteration's matmuls)."""
    lines = ['| shape | N×C×H×W | ' + ' | '.join(layers) + ' |', '|---|---|' + '---:|' * len(layers)]
    for row in rows:
        cells = [row.name, '×'.join(map(str, row.shape))]
        for k in layers:
            ratios = []
            if k != 'GN' and row.vs_gn(k) is not None:
                ratios.append(f'{row.vs_gn(k):.1f}×GN')
            if k != 'BN' and row.vs_bn(k) is not None:
                ratios.append(f'{row.vs_bn(k):.2f}×BN')
            if row.vs_floor(k) is not None:
                ratios.append(f'**{row.vs_floor(k):.2f}×floor**')
            if row.vs_floor_newton(k) is not None:
                ratios.append(f'**{row.vs_floor_newton(k):.2f}×floor+N**')
            cells.append(f'{row.seconds[k] * 1e3:.1f}' + (f' ({", ".join(ratios)})' if ratios else ''))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def format_ratio_table(rows: Sequence[bench.LayerStepResult], layers: Sequence[str], ratio: str) -> str:
    """Markdown: per shape and layer, ``row.<ratio>(layer)``: ``'memory_ratio'`` (peak memory of the
    forward+backward step / the input's size) or ``'saved_ratio'`` (bytes kept for backward / the input's size)."""
    lines = ['| shape | input MiB | ' + ' | '.join(layers) + ' |', '|---|---:|' + '---:|' * len(layers)]
    for row in rows:
        cells = [row.name, f'{row.input_bytes / 2**20:.1f}'] + [f'{getattr(row, ratio)(k):.2f}' for k in layers]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def _worst(rows: Sequence[bench.LayerStepResult], ratio) -> tuple:
    """(largest ratio(row), that row's name) over `rows`."""
    return max((ratio(row), row.name) for row in rows)


def format_targets12(rows: Sequence[bench.LayerStepResult]) -> List[str]:
    """One line per layer of issue 12's targets present in `rows`: the worst ratio over the shapes, with the
    shape named, against each target, met or not."""
    lines = []
    layers = rows[0].seconds if rows else {}
    memory = bool(rows) and bool(rows[0].peak_bytes)
    for name in TARGET12_BATCH_LAYERS:
        if name not in layers or 'BN' not in layers:
            continue
        checks = [('time', _worst(rows, lambda r: r.vs_bn(name)), TARGET12_BN_RATIO, 'BN\'s')]
        if memory:
            checks += [('saved for backward', _worst(rows, lambda r: r.saved_ratio(name)), TARGET12_SAVED_RATIO,
                        'the input\'s'),
                       ('peak memory', _worst(rows, lambda r: r.memory_ratio(name)), TARGET12_PEAK_RATIO,
                        'the input\'s')]
        lines.append(_target_line(name, checks))
    for name in TARGET_WHITENING:
        if name not in layers:
            continue
        worst = _worst(rows, lambda r: r.vs_floor_newton(name))
        lines.append(_target_line(name, [('time', worst, TARGET12_FLOOR_NEWTON_RATIO, 'its floor+Newton')]))
    return lines


def _target_line(name: str, checks) -> str:
    parts, ok = [], True
    for what, (ratio, shape), target, of in checks:
        parts.append(f'{what} at most {ratio:.2f}× {of} ({shape}; target ≤ {target:g}×)')
        ok = ok and ratio <= target
    return f'{name}: ' + ', '.join(parts) + (': met' if ok else ': NOT met')


def format_targets(row: bench.LayerStepResult) -> List[str]:
    """One line per whitening layer of the target row: its ratios to the issue-4 targets, met or not."""
    lines = []
    for name in TARGET_WHITENING:
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


def format_e2e(result: Dict[str, Dict[str, float]], baseline: str) -> str:
    lines = ['| model | s / iteration (median, quartiles) | × GN |', '|---|---|---|']
    for name, stats in result.items():
        lines.append(f"| {name} | {stats['median']:.3f} ({stats['q1']:.3f}–{stats['q3']:.3f}) | "
                     f"{stats['median'] / result[baseline]['median']:.2f} |")
    return '\n'.join(lines)


def format_compiled_layers(rows: Sequence[bench.LayerStepResult], layers: Sequence[str], backend: str) -> str:
    """Markdown: per shape and layer, ms per forward+backward eager and compiled, each over BN's eager step."""
    lines = ['| shape | N×C×H×W | mode | ' + ' | '.join(layers) + ' |', '|---|---|---|' + '---:|' * len(layers)]
    for row in rows:
        for mode, seconds, vs_bn in (('eager', row.seconds, row.vs_bn),
                                     (f'compiled ({backend})', row.compiled_seconds, row.compiled_vs_bn)):
            cells = [f'{1e3 * seconds[name]:.2f}' + ('' if vs_bn(name) is None else f' ({vs_bn(name):.2f}×BN)')
                     for name in layers]
            lines.append(f'| {row.name} | {"×".join(map(str, row.shape))} | {mode} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def format_compiled(result: Dict[str, Dict[str, Dict[str, float]]], backend: str) -> str:
    """Markdown: per config, s / iteration eager and compiled, their ratio, and the compiled warm-up's extra
    seconds over the eager warm-up (the compile time)."""
    lines = [f'| model | eager s / it | compiled ({backend}) s / it | compiled / eager | '
             'warm-up eager s | warm-up compiled s | compile s (extra warm-up) |', '|---|' + '---:|' * 6]
    for name, modes in result.items():
        eager, compiled = modes['eager'], modes['compiled']
        lines.append(f"| {name} | {eager['median']:.3f} | {compiled['median']:.3f} | "
                     f"{compiled['median'] / eager['median']:.2f} | {eager['warmup']:.1f} | {compiled['warmup']:.1f} | "
                     f"{compiled['warmup'] - eager['warmup']:.1f} |")
    return '\n'.join(lines)


def format_coco_step(groups: Sequence[dict]) -> str:
    """Markdown: per group of configs, s / step (best of its steps, every step listed) and the ratio to the
    group's baseline, with the group's target where it has one."""
    lines = ['| configs | norm | s / step (best) | every step, s | × baseline | target |',
             '|---|---|---:|---|---:|---|']
    for group in groups:
        base = group['result'][group['baseline']]['best']
        for name, stats in group['result'].items():
            ratio = stats['best'] / base
            target = ''
            if group['target'] and name != group['baseline']:
                target = f"≤ {group['target']:g}×: " + ('met' if ratio <= group['target'] else 'NOT met')
            lines.append(f"| {group['title']} | {name} | {stats['best']:.2f} | "
                         f"{', '.join(f'{t:.2f}' for t in stats['rounds'])} | {ratio:.2f} | {target} |")
    return '\n'.join(lines)


def to_json(report: dict) -> str:
    """The report as JSON, rows included (dataclasses become dicts)."""
    return json.dumps(report, indent=1, default=lambda obj: asdict(obj) if is_dataclass(obj) else str(obj))


def plot_rows(rows: Sequence[bench.LayerStepResult], layers: Sequence[str], path: str, title: str = '') -> None:
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


# ------------------------------------------------------------------------------------------ main
def e2e_configs(gn_config: str, gw_paper_config: str) -> dict:
    """The demo Mask R-CNN with GN everywhere, GW everywhere, and GW at the paper's backbone positions
    without and with GW in the FPN and heads too."""
    gn = Config.fromfile(gn_config)
    gw = paper_norm_cfg('GW')
    gw_backbone = Config.fromfile(gw_paper_config)
    return {
        'GN everywhere': gn,
        'GW everywhere': replace_norm_cfgs(gn, gw),
        'GW paper placement, backbone (the demo config)': gw_backbone,
        'GW paper placement, backbone + FPN + heads': replace_norm_cfgs(
            gw_backbone, gw, under=('model.neck', 'model.roi_head')),
    }


def coco_configs(group: tuple, rois: int = None) -> dict:
    """{name: Config} of one of COCO_GROUPS, with `rois` RPN proposals kept and RoIs sampled per image."""
    configs = {}
    for name, path in group[3].items():
        cfg = Config.fromfile(osp.join(REPO, 'configs', path))
        if rois is not None:
            cfg.model.train_cfg.rpn_proposal.max_per_img = rois
            cfg.model.train_cfg.rcnn.sampler.num = rois
        configs[name] = cfg
    return configs


def run_coco_step(args, info: dict, command: str, load: OtherLoad) -> None:
    """--coco-step: each group of COCO_GROUPS interleaved within itself, the groups one after the other."""
    height, width = args.coco_size
    groups = []
    for group in COCO_GROUPS:
        if group[0] not in args.coco_groups:
            continue
        key, title, baseline, _, repeats, target = group
        repeats = args.coco_repeats or repeats
        result = bench.TrainingStepBenchmark(coco_configs(group, args.coco_rois), image_size=(height, width),
                                             repeats=repeats, device=args.device).run()
        groups.append(dict(key=key, title=title, baseline=baseline, target=target, repeats=repeats,
                           configs=group[3], result=result))
        print(f'  measured {key}', flush=True)
    md = [f"`python {command}` on {info.get('gpu', info.get('cpu'))}, torch {info['torch']}, {info['threads']} "
          'threads, float32.', '',
          f'## One training step per config: one random {height}×{width} image, random initialisation', '',
          'Seconds of `model.train_step` (forward, backward, SGD step), the configs of a group interleaved '
          '(best of the steps listed); ratios within a group.', '', format_coco_step(groups), '']
    other = load.cores()
    if other is not None:
        md += [f'Other processes used {other:.2f} CPU cores on average during this run (0 = a quiet machine).', '']
    _write(args.out, '\n'.join(md), dict(machine=info, command=command, image_size=[height, width],
                                         rois=args.coco_rois, groups=groups, other_processes_cpu_cores=other))


def _write(out: str, text: str, report: dict) -> None:
    print(text)
    os.makedirs(osp.dirname(out) or '.', exist_ok=True)
    with open(out + '.md', 'w') as f:
        f.write(text + '\n')
    with open(out + '.json', 'w') as f:
        f.write(to_json(report))


def main():
    args = parse_args()
    if args.repeats < 5:
        raise SystemExit('--repeats must be at least 5')
    if args.coco_step:
        info = machine_info(torch.device(args.device))
        return run_coco_step(args, info, ' '.join(sys.argv), OtherLoad())
    device = torch.device(args.device)
    scale = args.scale if args.scale is not None else (1.0 if device.type == 'cuda' else 0.5)
    layers = ['GN'] + [name for name in args.layers if name != 'GN']
    reused = device.type == 'cpu' and not args.keep_malloc and reuse_freed_memory()
    load = OtherLoad()
    info = machine_info(device)
    command = ' '.join(sys.argv)
    print(f"# normdet norm benchmark: {info.get('gpu', info.get('cpu'))}, torch {info['torch']}, "
          f"{info['threads']} threads, float32, medians of {args.repeats} or more interleaved runs")
    report = dict(machine=info, scale=scale, repeats=args.repeats, min_seconds=args.min_seconds, command=command)
    md = [f"`python {command}` on {info.get('gpu', info.get('cpu'))}, torch {info['torch']}, "
          f"{info['threads']} threads, float32.", '']
    if device.type == 'cpu':
        md += ['Not measured here: CUDA. GW and ItN run the same code there (batched matmuls, no host '
               'synchronisation); `--device cuda` measures time and `torch.cuda.max_memory_allocated`.', '']
        if reused:
            md += ['Freed memory is kept for reuse (glibc `mallopt`, as jemalloc/tcmalloc or the CUDA caching '
                   'allocator do), so times do not include faulting in fresh pages; `--keep-malloc` to '
                   'include them.', '']

    target = bench.LayerStepBenchmark('issue-4 target', TARGET_SHAPE, TARGET_LAYERS, device,
                                      repeats=max(args.repeats, 7), memory=not args.no_memory).run()
    md += ['## Targets: GW (64 groups) and ItN (64 channels per group), T = 5, input 2×256×96×128', '',
           'ms per forward+backward (median); ratios from the same run.', '',
           format_time_table([target], TARGET_LAYERS), '']
    md += [f'- {line}' for line in format_targets(target)] + ['']
    report['target'] = target

    rows = []
    if not args.no_shapes:
        for name, shape in bench.scaled_shapes(scale):
            rows.append(bench.LayerStepBenchmark(name, shape, layers, device, repeats=args.repeats,
                                                 memory=not args.no_memory, min_seconds=args.min_seconds).run())
            print(f'  measured {name} {shape}', flush=True)
        md += [f'## Layers at the shapes of Mask R-CNN R-50-FPN, 2 images of 800×1344, scale {scale:g}', '',
               'ms per forward+backward (median of interleaved runs); ×GN and ×floor are ratios of times from the '
               'same run (floor: the five matmuls of 2·g·E flops each, GW and ItN only).', '',
               format_time_table(rows, layers), '']
        if not args.no_memory:
            md += ['Peak memory of the forward+backward step / the input\'s size (the output and the input\'s '
                   'gradient included, so 2 is the least any layer can need):', '',
                   format_ratio_table(rows, layers, 'memory_ratio'), '',
                   'Saved for backward: bytes of the tensors the forward keeps for the backward (input, '
                   'parameters and buffers included, each storage once) / the input\'s size; BN keeps about 1:', '',
                   format_ratio_table(rows, layers, 'saved_ratio'), '']
        targets12 = format_targets12(rows)
        if targets12:
            md += [f'### Issue-12 targets at every shape above (scale {scale:g})', '',
                   f'{", ".join(TARGET12_BATCH_LAYERS)}: time ≤ {TARGET12_BN_RATIO:g}× BN, saved for backward ≤ '
                   f'{TARGET12_SAVED_RATIO:g}× and peak memory ≤ {TARGET12_PEAK_RATIO:g}× the input; GW and ItN: '
                   f'time ≤ {TARGET12_FLOOR_NEWTON_RATIO:g}× their floor+Newton. Worst shape in brackets.', '']
            md += [f'- {line}' for line in targets12] + ['']
        report['rows'] = rows
        report['targets12'] = targets12

    if args.compile_layers:
        shapes = dict(bench.scaled_shapes(scale))
        compiled_rows = []
        for name in COMPILE_LAYER_SHAPES:
            compiled_rows.append(bench.LayerStepBenchmark(name, shapes[name], layers, device,
                                                          repeats=args.repeats, memory=False,
                                                          compile_backend=args.compile_backend,
                                                          min_seconds=args.min_seconds).run())
            print(f'  measured {name} eager and compiled', flush=True)
        md += [f'## Layers eager and under torch.compile (fullgraph, backend {args.compile_backend}) at the '
               f'smallest maps (scale {scale:g})', '',
               'ms per forward+backward (median of interleaved runs, the compiling round discarded); every ratio '
               "is to BN's eager step in the same run.", '',
               format_compiled_layers(compiled_rows, layers, args.compile_backend), '']
        report['compiled_layers'] = dict(backend=args.compile_backend, rows=compiled_rows)

    if not args.no_e2e:
        e2e = bench.TrainingIterationBenchmark(e2e_configs(args.gn_config, args.gw_paper_config),
                                               iterations=args.e2e_iters, device=device).run()
        md += ['## Demo Mask R-CNN, seconds per training iteration (batch 2, same batches, interleaved)', '',
               format_e2e(e2e, baseline='GN everywhere'), '']
        report['e2e'] = e2e
    if args.compile:
        compiled = bench.CompiledIterationBenchmark(
            {norm: Config.fromfile(DEMO.format(norm)) for norm in args.compile_norms}, backend=args.compile_backend,
            iterations=args.e2e_iters, device=device).run()
        md += [f'## Demo Mask R-CNN eager and under torch.compile (backend {args.compile_backend}), seconds per '
               'training iteration (batch 2, same batches, interleaved)', '',
               f'Compiled: {", ".join(bench.COMPILED_MODULES)} (`nn.Module.compile`, graph breaks allowed); the '
               'warm-up is the 3 iterations before the timed ones, where compilation happens.', '',
               format_compiled(compiled, args.compile_backend), '']
        report['compiled'] = dict(backend=args.compile_backend, modules=bench.COMPILED_MODULES, result=compiled)

    other = load.cores()
    report['other_processes_cpu_cores'] = other
    report['reused_freed_memory'] = reused
    if other is not None:
        md += [f'Other processes used {other:.2f} CPU cores on average during this run (0 = a quiet machine).', '']
    _write(args.out, '\n'.join(md), report)
    if rows:
        plot_rows(rows, layers, args.out + '.png', title=f"{info.get('gpu', info.get('cpu'))}, "
                  f"torch threads: {info['threads']}, scale {scale:g}")
    print(f'wrote {args.out}.md, {args.out}.json' + (f', {args.out}.png' if rows else ''))


if __name__ == '__main__':
    main()
