"""The embedded CPU demo: make the shapes data set, train a config on it from scratch, evaluate COCO AP.

    python demo/shapes_demo.py [CONFIG] [--work-dir DIR] [--cfg-options KEY=VALUE ...]

CONFIG defaults to Mask R-CNN with GW in the paper's backbone placement (``make demo``). As with
``tools/train.py``, the data (the config's ``data_root``) and the work dir (default
``work_dirs/<config name>``) are relative to the current directory; the default config is found from this
script's location. ``demo/compare_norms.py`` runs this script once per norm, each in its own process so
that peak memory and timing are its own.
"""
import argparse
import json
import os
import os.path as osp
import resource
import time

import torch
from mmengine.config import Config, DictAction

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO_CONFIG = osp.join(REPO, 'configs', 'demo', 'mask-rcnn_r18-w32_fpn_gw-paper_400it_shapes.py')
# Row name -> key of the COCO metric in what the test loop returns (the mask metrics for Mask R-CNN only).
METRICS = {
    'box AP': 'coco/bbox_mAP',
    'AP50': 'coco/bbox_mAP_50',
    'AP75': 'coco/bbox_mAP_75',
    'mask AP': 'coco/segm_mAP',
    'mask AP50': 'coco/segm_mAP_50',
}


def peak_memory_mb():
    """This process's peak memory so far, MiB: max allocated on CUDA, peak resident set size on CPU."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def run_demo(config, work_dir=None, cfg_options=None):
    """Generate the data the config names, train, then evaluate on the val split.

    Returns a dict with the COCO metrics, seconds per training iteration, the train/eval/total seconds,
    peak memory (MiB: process peak RSS on CPU, max allocated on CUDA) and the checkpoint path; also writes
    it to ``<work_dir>/demo_results.json``.
    """
    from normdet.datasets import apply_shapes_cfg, generate_shapes_dataset
    from normdet.engine.runner import build_runner

    start = time.perf_counter()
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    apply_shapes_cfg(cfg)  # `shapes_cfg.*` options reach the datasets too
    cfg.work_dir = work_dir or osp.join('work_dirs', osp.splitext(osp.basename(config))[0])
    # Generated here rather than on the datasets' first use (which then finds it), so that its time is
    # reported on its own.
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
    result = {name: float(metrics[key]) for name, key in METRICS.items() if key in metrics}
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
        peak_memory_mb=peak_memory_mb(),
        device='cuda' if torch.cuda.is_available() else 'cpu',
        torch_threads=torch.get_num_threads())
    with open(osp.join(cfg.work_dir, 'demo_results.json'), 'w') as f:
        json.dump(result, f, indent=2)
    return result


def newest_scalars(work_dir):
    """The records of mmengine's ``vis_data/scalars.json`` of the newest run in ``work_dir`` (a list of
    dicts, one per logging step; empty when there is none)."""
    runs = sorted(d for d in os.listdir(work_dir) if osp.isfile(osp.join(work_dir, d, 'vis_data', 'scalars.json')))
    if not runs:
        return []
    with open(osp.join(work_dir, runs[-1], 'vis_data', 'scalars.json')) as f:
        return [json.loads(line) for line in f if line.strip()]


def write_report(results, out_dir, stem, table, plot):
    """Write ``<stem>.json`` (the results), ``<stem>.md`` (the Markdown ``table``) and ``<stem>.png``
    (``plot(results, path)``) to ``out_dir``, and print the table."""
    os.makedirs(out_dir, exist_ok=True)
    with open(osp.join(out_dir, f'{stem}.json'), 'w') as f:
        json.dump(results, f, indent=2)
    with open(osp.join(out_dir, f'{stem}.md'), 'w') as f:
        f.write(table + '\n')
    plot(results, osp.join(out_dir, f'{stem}.png'))
    print(table)


def format_demo_result(result):
    """The result of :func:`run_demo` as aligned ``name  value`` lines."""
    rows = [(name, f'{result[name]:.3f}') for name in METRICS if name in result]
    rows += [('s / iteration', f'{result["seconds_per_iter"]:.3f}'),
             ('train + eval + data (min)', f'{result["total_seconds"] / 60:.1f}'),
             ('peak memory (MiB)', f'{result["peak_memory_mb"]:.0f}'),
             ('checkpoint', result['checkpoint'])]
    width = max(len(r[0]) for r in rows)
    return '\n'.join(f'{name:<{width}}  {value}' for name, value in rows)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', nargs='?', default=DEMO_CONFIG, help='demo config')
    parser.add_argument('--work-dir', help='where checkpoint, logs and demo_results.json go')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    return parser.parse_args()


def main():
    args = parse_args()
    result = run_demo(args.config, work_dir=args.work_dir, cfg_options=args.cfg_options)
    print('\nnormdet demo: ' + args.config)
    print(format_demo_result(result))


if __name__ == '__main__':
    main()
