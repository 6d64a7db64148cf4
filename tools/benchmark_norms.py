"""Forward+backward time and peak memory of every normdet layer, nn.GroupNorm and nn.BatchNorm2d at the
shapes of a ResNet-50-FPN Mask R-CNN (2 images), the issue-4 targets, and seconds per training iteration
of the demo Mask R-CNN with GN everywhere, GW everywhere and GW in the paper's placement.

    python tools/benchmark_norms.py                  # `make bench`: scale 1 on CUDA, 0.5 per side on CPU
    python tools/benchmark_norms.py --device cuda --scale 1
    python tools/benchmark_norms.py --scale 0.25 --no-e2e --layers GN GW ItN

Writes <out>.json, <out>.md (the tables) and <out>.png (the chart); see normdet/utils/benchmark.py for
what is measured and how.
"""
import argparse
import os
import os.path as osp
import sys

import torch

from normdet.engine.demo import COMPARE_CONFIGS
from normdet.utils import benchmark as bench

DEMO = 'configs/demo/mask-rcnn_r18-w32_fpn_{}_1200it_shapes.py'


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--scale', type=float, help='feature-map side scale (RoI counts scale by its square); '
                        'default 1 on CUDA, 0.5 on CPU')
    parser.add_argument('--layers', nargs='+', default=list(bench.LAYERS), choices=list(bench.LAYERS))
    parser.add_argument('--repeats', type=int, default=7, help='timed rounds per shape (median); >= 5')
    parser.add_argument('--no-memory', action='store_true', help='skip the peak-memory pass')
    parser.add_argument('--no-shapes', action='store_true', help='only the targets (and --e2e)')
    parser.add_argument('--no-e2e', action='store_true', help='skip the training iterations of the demo model')
    parser.add_argument('--e2e-iters', type=int, default=20)
    parser.add_argument('--gn-config', default=COMPARE_CONFIGS['GN'], help='the demo config with GN')
    parser.add_argument('--gw-paper-config', default=COMPARE_CONFIGS['GW (paper placement)'],
                        help='the demo config with GW at the paper\'s backbone positions')
    parser.add_argument('--keep-malloc', action='store_true',
                        help="CPU: leave glibc's default of returning freed memory to the OS (see "
                        'normdet.utils.benchmark.reuse_freed_memory)')
    parser.add_argument('--out', default='results/bench', help='output path without extension')
    return parser.parse_args()


def main():
    args = parse_args()
    if args.repeats < 5:
        raise SystemExit('--repeats must be at least 5')
    device = torch.device(args.device)
    scale = args.scale if args.scale is not None else (1.0 if device.type == 'cuda' else 0.5)
    layers = ['GN'] + [name for name in args.layers if name != 'GN']
    reused = device.type == 'cpu' and not args.keep_malloc and bench.reuse_freed_memory()
    load = bench.OtherLoad()
    info = bench.machine_info(device)
    print(f"# normdet norm benchmark: {info.get('gpu', info.get('cpu'))}, torch {info['torch']}, "
          f"{info['threads']} threads, float32, medians of {args.repeats} interleaved runs")
    report = dict(machine=info, scale=scale, repeats=args.repeats, command=' '.join(sys.argv))
    md = [f"`python {' '.join(sys.argv)}` on {info.get('gpu', info.get('cpu'))}, torch {info['torch']}, "
          f"{info['threads']} threads, float32.", '']
    if device.type == 'cpu':
        md += ['Not measured here: CUDA. GW and ItN run the same code there (batched matmuls, no host '
               'synchronisation); `--device cuda` measures time and `torch.cuda.max_memory_allocated`.', '']
        if reused:
            md += ['Freed memory is kept for reuse (glibc `mallopt`, as jemalloc/tcmalloc or the CUDA caching '
                   'allocator do), so times do not include faulting in fresh pages; `--keep-malloc` to '
                   'include them.', '']

    target = bench.measure_row('issue-4 target', bench.TARGET_SHAPE, ['GN', 'GW', 'ItN'], device,
                               repeats=max(args.repeats, 7), memory=not args.no_memory)
    md += ['## Targets: GW (64 groups) and ItN (64 channels per group), T = 5, input 2×256×96×128', '',
           'ms per forward+backward (median); ratios from the same run.', '',
           bench.format_time_table([target], ['GN', 'GW', 'ItN']), '']
    md += [f'- {line}' for line in bench.format_targets(target)] + ['']
    report['target'] = target

    rows = []
    if not args.no_shapes:
        for name, shape in bench.scaled_shapes(scale):
            rows.append(bench.measure_row(name, shape, layers, device, repeats=args.repeats,
                                          memory=not args.no_memory))
            print(f'  measured {name} {shape}', flush=True)
        md += [f'## Layers at the shapes of Mask R-CNN R-50-FPN, 2 images of 800×1344, scale {scale:g}', '',
               'ms per forward+backward (median of interleaved runs); ×GN and ×floor are ratios of times from the '
               'same run (floor: the five matmuls of 2·g·E flops each, GW and ItN only).', '',
               bench.format_time_table(rows, layers), '']
        if not args.no_memory:
            md += ['Peak memory of the forward+backward step / the input\'s size (the output and the input\'s '
                   'gradient included, so 2 is the least any layer can need):', '',
                   bench.format_memory_table(rows, layers), '']
        report['rows'] = rows

    if not args.no_e2e:
        from mmengine.config import Config
        gn = Config.fromfile(args.gn_config)
        gw = dict(type='GW', num_groups=64)
        gw_backbone = Config.fromfile(args.gw_paper_config)
        configs = {
            'GN everywhere': gn,
            'GW everywhere': bench.with_norm_everywhere(gn, gw),
            'GW paper placement, backbone (the demo config)': gw_backbone,
            'GW paper placement, backbone + FPN + heads': bench.with_norm_everywhere(
                gw_backbone, gw, under=('model.neck', 'model.roi_head')),
        }
        e2e = bench.training_iteration_seconds(configs, iterations=args.e2e_iters)
        md += ['## Demo Mask R-CNN, seconds per training iteration (batch 2, same batches, interleaved)', '',
               bench.format_e2e(e2e, baseline='GN everywhere'), '']
        report['e2e'] = e2e

    other = load.cores()
    report['other_processes_cpu_cores'] = other
    report['reused_freed_memory'] = reused
    if other is not None:
        md += [f'Other processes used {other:.2f} CPU cores on average during this run (0 = a quiet machine).', '']
    text = '\n'.join(md)
    print(text)
    os.makedirs(osp.dirname(args.out) or '.', exist_ok=True)
    with open(args.out + '.md', 'w') as f:
        f.write(text + '\n')
    with open(args.out + '.json', 'w') as f:
        f.write(bench.to_json(report))
    if rows:
        bench.plot_rows(rows, layers, args.out + '.png', title=f"{info.get('gpu', info.get('cpu'))}, "
                        f"torch threads: {info['threads']}, scale {scale:g}")
    print(f'wrote {args.out}.md, {args.out}.json' + (f', {args.out}.png' if rows else ''))


if __name__ == '__main__':
    main()
