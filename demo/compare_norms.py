"""Run the CPU demo protocol (same data, seed and schedule) for every norm of configs/demo/ and write
results/compare.md, results/compare.json and results/compare.png.

    python demo/compare_norms.py [--only GN GW ...] [--out results]

Each config runs ``demo/shapes_demo.py`` in its own process, so that peak memory and timing are its own.
The compared configs are the files ``configs/demo/*_400it_shapes.py``, each naming its row with the
variable ``demo_name``; rows come in the order torch's norms (the baselines) first, then normdet's in the
registry's order (``normdet.layers.NORM_TYPES``). Work dirs (``work_dirs/compare/``) and the data are
relative to the current directory, as with ``tools/train.py``; ``--out`` defaults to the repository's
``results/``.
"""
import argparse
import glob
import json
import os
import os.path as osp
import statistics
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
from shapes_demo import newest_scalars, write_report  # this script's folder is first on sys.path

SHAPES_DEMO = osp.join(osp.dirname(osp.abspath(__file__)), 'shapes_demo.py')
DEMO_CONFIGS = 'configs/demo/*_400it_shapes.py'  # relative to REPO


def compared_configs():
    """``{demo_name: config path relative to the repository}`` of every demo config, in table order: the
    configs that use only torch's/mmcv's norms first (by name), then by the first normdet type they use, in
    the order of ``normdet.layers.NORM_TYPES``."""
    from mmengine.config import Config

    from normdet.layers import NORM_TYPES
    from normdet.utils.norm_cfgs import iter_norm_cfgs

    def order(cfg):
        types = {norm_cfg['type'] for _, norm_cfg in iter_norm_cfgs(cfg.model)}
        normdet_types = [i for i, norm_type in enumerate(NORM_TYPES) if norm_type in types]
        return (1, min(normdet_types), cfg.demo_name) if normdet_types else (0, 0, cfg.demo_name)

    configs = []
    for path in sorted(glob.glob(osp.join(REPO, DEMO_CONFIGS))):
        cfg = Config.fromfile(path)
        configs.append((order(cfg), cfg.demo_name, osp.relpath(path, REPO)))
    return {name: path for _, name, path in sorted(configs)}


def loss_curve(work_dir):
    """(iterations, losses) logged by the newest run in work_dir."""
    records = [r for r in newest_scalars(work_dir) if 'loss' in r and 'iter' in r]
    return [r['iter'] for r in records], [r['loss'] for r in records]


def compare_norms(configs, out_dir, work_root='work_dirs/compare', python=sys.executable):
    """Run the demo protocol for every ``{name: config relative to the repository}`` in its own process;
    write compare.md/.json/.png to out_dir."""
    os.makedirs(out_dir, exist_ok=True)
    results = {}
    for name, config in configs.items():
        work_dir = osp.join(work_root, osp.splitext(osp.basename(config))[0])
        print(f'== {name}: {config}', flush=True)
        subprocess.run([python, SHAPES_DEMO, osp.join(REPO, config), '--work-dir', work_dir], check=True)
        with open(osp.join(work_dir, 'demo_results.json')) as f:
            results[name] = json.load(f)
        results[name]['config'] = config  # the table shows it as the repository names it
        results[name]['loss_curve'] = loss_curve(work_dir)
    write_report(results, out_dir, 'compare', format_compare_table(results), plot_compare)
    return results


def format_compare_table(results):
    lines = ['| norm | box AP | AP50 | mask AP | s / iter | peak memory (MiB) | config |',
             '| --- | --- | --- | --- | --- | --- | --- |']
    for name, r in results.items():
        lines.append(f'| {name} | {r["box AP"]:.3f} | {r["AP50"]:.3f} | {r["mask AP"]:.3f} | '
                     f'{r["seconds_per_iter"]:.3f} | {r["peak_memory_mb"]:.0f} | `{r["config"]}` |')
    return '\n'.join(lines)


def plot_compare(results, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, (curves, bars) = plt.subplots(1, 2, figsize=(13, 4.5))
    for name, r in results.items():
        iters, losses = r['loss_curve']
        if iters:
            window = 5  # the logged losses are already 50-iteration means; smooth a little more
            smooth = [statistics.fmean(losses[max(0, i - window + 1):i + 1]) for i in range(len(losses))]
            curves.plot(iters, smooth, label=name)
    curves.set(xlabel='iteration', ylabel='training loss', title='Training loss (same seed and schedule)')
    curves.legend()
    names = list(results)
    x = range(len(names))
    bars.bar([i - 0.2 for i in x], [results[n]['box AP'] for n in names], width=0.4, label='box AP')
    bars.bar([i + 0.2 for i in x], [results[n]['mask AP'] for n in names], width=0.4, label='mask AP')
    bars.set_xticks(list(x), [n.replace(' (', '\n(') for n in names])  # 'GW\n(paper placement)'
    bars.set(ylabel='COCO AP (0.5:0.95), val split', title='AP after the same schedule')
    bars.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args(names):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--only', nargs='+', choices=names, help='a subset of the norms')
    parser.add_argument('--out', default=osp.join(REPO, 'results'), help='output directory')
    return parser.parse_args()


def main():
    configs = compared_configs()
    args = parse_args(list(configs))
    compare_norms({k: v for k, v in configs.items() if not args.only or k in args.only}, out_dir=args.out)


if __name__ == '__main__':
    main()
