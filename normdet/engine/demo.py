"""The embedded CPU demo: make the shapes data set, train a config on it from scratch, evaluate COCO AP.

`tools/demo.py` runs one config; `tools/compare_norms.py` runs the same protocol for several norms, each
in its own process so that peak memory and timing are its own.
"""
import json
import os
import os.path as osp
import resource
import statistics
import subprocess
import sys
import time

import torch

DEMO_CONFIG = 'configs/demo/mask-rcnn_r18-w32_fpn_gw-paper_1200it_shapes.py'
COMPARE_CONFIGS = {
    'BN': 'configs/demo/mask-rcnn_r18-w32_fpn_bn_1200it_shapes.py',
    'GN': 'configs/demo/mask-rcnn_r18-w32_fpn_gn_1200it_shapes.py',
    'GW (paper placement)': DEMO_CONFIG,
    'BGN': 'configs/demo/mask-rcnn_r18-w32_fpn_bgn_1200it_shapes.py',
    'GNPlus': 'configs/demo/mask-rcnn_r18-w32_fpn_gnplus_1200it_shapes.py',
    'ItN': 'configs/demo/mask-rcnn_r18-w32_fpn_itn_1200it_shapes.py',
    'SWBN': 'configs/demo/mask-rcnn_r18-w32_fpn_swbn_1200it_shapes.py',
}
METRICS = {
    'box AP': 'coco/bbox_mAP',
    'AP50': 'coco/bbox_mAP_50',
    'AP75': 'coco/bbox_mAP_75',
    'mask AP': 'coco/segm_mAP',
    'mask AP50': 'coco/segm_mAP_50',
}


def _peak_memory_mb():
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def run_demo(config, work_dir=None, cfg_options=None):
    """Generate the data the config names, train, then evaluate on the val split.

    Returns a dict with the COCO metrics, seconds per training iteration, the train/eval/total seconds,
    peak memory (MiB: process peak RSS on CPU, max allocated on CUDA) and the checkpoint path; also writes
    it to ``<work_dir>/demo_results.json``.
    """
    from mmengine.config import Config

    from normdet.datasets import generate_shapes_dataset
    from normdet.engine.runner import build_runner

    start = time.perf_counter()
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.work_dir = work_dir or osp.join('work_dirs', osp.splitext(osp.basename(config))[0])
    data = generate_shapes_dataset(cfg.data_root, **cfg.shapes_cfg)
    # Evaluation runs once, after training, through the test loop (same split and metric as val).
    for key in ('val_dataloader', 'val_evaluator', 'val_cfg'):
        cfg[key] = None
    runner = build_runner(cfg)
    train_start = time.perf_counter()
    runner.train()
    train_seconds = time.perf_counter() - train_start
    eval_start = time.perf_counter()
    metrics = runner.test()
    eval_seconds = time.perf_counter() - eval_start
    result = {name: float(metrics[key]) for name, key in METRICS.items()}
    max_iters = cfg.train_cfg.max_iters
    result.update(
        config=config,
        work_dir=cfg.work_dir,
        checkpoint=osp.join(cfg.work_dir, f'iter_{max_iters}.pth'),
        iterations=max_iters,
        seconds_per_iter=train_seconds / max_iters,
        train_seconds=train_seconds,
        eval_seconds=eval_seconds,
        data_seconds=data['seconds'],
        total_seconds=time.perf_counter() - start,
        peak_memory_mb=_peak_memory_mb(),
        device='cuda' if torch.cuda.is_available() else 'cpu',
        torch_threads=torch.get_num_threads())
    with open(osp.join(cfg.work_dir, 'demo_results.json'), 'w') as f:
        json.dump(result, f, indent=2)
    return result


def format_demo_result(result):
    rows = [(name, f'{result[name]:.3f}') for name in METRICS]
    rows += [('s / iteration', f'{result["seconds_per_iter"]:.3f}'),
             ('train + eval + data (min)', f'{result["total_seconds"] / 60:.1f}'),
             ('peak memory (MiB)', f'{result["peak_memory_mb"]:.0f}'),
             ('checkpoint', result['checkpoint'])]
    width = max(len(r[0]) for r in rows)
    return '\n'.join(f'{name:<{width}}  {value}' for name, value in rows)


def _loss_curve(work_dir):
    """(iterations, losses) from mmengine's scalars.json of the newest run in work_dir."""
    runs = sorted(d for d in os.listdir(work_dir) if osp.isfile(osp.join(work_dir, d, 'vis_data', 'scalars.json')))
    if not runs:
        return [], []
    iters, losses = [], []
    with open(osp.join(work_dir, runs[-1], 'vis_data', 'scalars.json')) as f:
        for line in f:
            record = json.loads(line)
            if 'loss' in record and 'iter' in record:
                iters.append(record['iter'])
                losses.append(record['loss'])
    return iters, losses


def compare_norms(configs=None, out_dir='results', work_root='work_dirs/compare', python=sys.executable):
    """Run the demo protocol for every config in its own process; write compare.md/.json/.png."""
    configs = configs or COMPARE_CONFIGS
    os.makedirs(out_dir, exist_ok=True)
    results = {}
    for name, config in configs.items():
        work_dir = osp.join(work_root, osp.splitext(osp.basename(config))[0])
        print(f'== {name}: {config}', flush=True)
        subprocess.run([python, 'tools/demo.py', config, '--work-dir', work_dir], check=True)
        with open(osp.join(work_dir, 'demo_results.json')) as f:
            results[name] = json.load(f)
        results[name]['loss_curve'] = _loss_curve(work_dir)
    with open(osp.join(out_dir, 'compare.json'), 'w') as f:
        json.dump(results, f, indent=2)
    table = format_compare_table(results)
    with open(osp.join(out_dir, 'compare.md'), 'w') as f:
        f.write(table + '\n')
    plot_compare(results, osp.join(out_dir, 'compare.png'))
    print(table)
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
