"""The GW paper's Table 2 recipe in miniature (``make paper-table``): pretrain, fine-tune, compare.

    python demo/paper_table.py [--out results] [--work-root work_dirs/paper_table]

(a) Pretrain three small backbones (the demo detectors' ResNet-18 at half width) as classifiers of the 6
shape classes on single-object crops (configs/paper_table/resnet18-w32_{bn,gn,gw-paper}_*_shapes-crops.py):
BN, GN, and GW at the paper's positions with BN elsewhere.
(b) Fine-tune Faster R-CNN with the 2fc and the 4conv1fc box head from them as Table 2 does
(configs/paper_table/faster-rcnn-*): BN rows with frozen BN; GN rows with GN in the backbone (and in the FPN
and head convs for 4conv1fc); GW rows with GW at stem + norm2 and frozen BN elsewhere (GN in the FPN and GW
after the head convs for 4conv1fc).
(c) The same six detectors from scratch: ``init_cfg=None`` and nothing frozen (there are no pretrained
weights or statistics to keep: frozen BN would be the identity, a frozen stem random).

Every cell has the same seed and schedule and runs in its own process (``tools/train.py`` for (a),
``demo/shapes_demo.py`` for (b) and (c)), with a progress line each. Writes <out>/paper_table.md, .json and
.png: our box AP beside the paper's six COCO numbers, and what pretraining bought (pretrained - scratch).
The work dirs and the data (data/shapes/, data/shapes_crops/) are relative to the current directory, as
with ``tools/train.py``. The ``--*-iters``/``--num-*`` options shrink everything for a quick check.
"""
import argparse
import json
import os.path as osp
import subprocess
import sys
import time

from shapes_demo import newest_scalars, write_report  # this script's folder is first on sys.path

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TRAIN = osp.join(REPO, 'tools', 'train.py')
SHAPES_DEMO = osp.join(osp.dirname(osp.abspath(__file__)), 'shapes_demo.py')
CONFIGS = osp.join(REPO, 'configs', 'paper_table')
PRETRAIN_CONFIGS = {  # row -> classifier config
    'BN-frozen': 'resnet18-w32_bn_600it_shapes-crops.py',
    'GN': 'resnet18-w32_gn_600it_shapes-crops.py',
    'GW': 'resnet18-w32_gw-paper_600it_shapes-crops.py',
}
HEADS = ('2fc', '4conv1fc')
ROW_TAGS = {'BN-frozen': 'bn-frozen', 'GN': 'gn', 'GW': 'gw'}
# Table 2 of Huang et al., CVPR 2021 (arXiv 2009.13333): Faster R-CNN R-50-FPN 1x, COCO minival box AP.
PAPER_BOX_AP = {
    ('BN-frozen', '2fc'): 36.31, ('GN', '2fc'): 36.32, ('GW', '2fc'): 38.13,
    ('BN-frozen', '4conv1fc'): 36.39, ('GN', '4conv1fc'): 37.86, ('GW', '4conv1fc'): 39.60,
}
# From scratch: no weights to load and nothing to freeze.
FROM_SCRATCH = ['model.backbone.init_cfg=None', 'model.backbone.frozen_stages=-1', 'model.backbone.norm_eval=False',
                'model.backbone.norm_cfg.requires_grad=True']


def detector_config(row, head):
    return osp.join(CONFIGS, f'faster-rcnn-{head}_r18-w32_fpn_{ROW_TAGS[row]}_400it_shapes.py')


def schedule_options(iters):
    """--cfg-options that shorten a config's training to `iters` iterations (checkpoint at the end)."""
    if iters is None:
        return []
    return [f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
            f'default_hooks.checkpoint.interval={iters}', f'default_hooks.logger.interval={min(iters, 50)}']


def cfg_options(*options):
    """``--cfg-options`` and its values, or nothing when there are none (argparse refuses the flag alone)."""
    return ['--cfg-options', *options] if options else []


def run_cell(cmd, label, index, total):
    start = time.perf_counter()
    print(f'[{index}/{total}] {label} ...', flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout[-8000:])
        raise SystemExit(f'{label} failed ({proc.returncode}): {" ".join(cmd)}')
    return time.perf_counter() - start


def paper_table(out_dir, work_root, pretrain_iters=None, det_iters=None, num_crops=None, num_images=None,
                python=sys.executable):
    """Run the 3 pretrainings and the 12 detectors (each in its own process); write the report."""
    crops = [] if num_crops is None else [f'shapes_crops_cfg.num_train={num_crops}',
                                          f'shapes_crops_cfg.num_val={max(num_crops // 4, 1)}']
    images = [] if num_images is None else [f'shapes_cfg.num_train={num_images}',
                                            f'shapes_cfg.num_val={max(num_images // 4, 1)}']
    total = len(PRETRAIN_CONFIGS) + 2 * len(PAPER_BOX_AP)
    index, results = 0, dict(pretrain={}, detection={})
    for row, config in PRETRAIN_CONFIGS.items():
        index += 1
        work_dir = osp.join(work_root, 'pretrain', osp.splitext(config)[0])
        seconds = run_cell([python, TRAIN, osp.join(CONFIGS, config), '--work-dir', work_dir,
                            *cfg_options(*schedule_options(pretrain_iters), *crops)], f'pretrain {row}: {config}',
                           index, total)
        top1 = [r['accuracy/top1'] for r in newest_scalars(work_dir) if 'accuracy/top1' in r]
        with open(osp.join(work_dir, 'last_checkpoint')) as f:
            checkpoint = f.read().strip()
        results['pretrain'][row] = dict(config=osp.relpath(osp.join(CONFIGS, config), REPO), checkpoint=checkpoint,
                                        top1=top1[-1] if top1 else None, seconds=seconds)
        print(f'    top-1 {results["pretrain"][row]["top1"]:.2f} % in {seconds / 60:.1f} min', flush=True)
    for (row, head), paper in PAPER_BOX_AP.items():
        for init in ('pretrained', 'scratch'):
            index += 1
            config = detector_config(row, head)
            name = f'{osp.splitext(osp.basename(config))[0]}_{init}'
            work_dir = osp.join(work_root, name)
            init_options = ([f'model.backbone.init_cfg.checkpoint={results["pretrain"][row]["checkpoint"]}']
                            if init == 'pretrained' else FROM_SCRATCH)
            seconds = run_cell([python, SHAPES_DEMO, config, '--work-dir', work_dir,
                                *cfg_options(*init_options, *schedule_options(det_iters), *images)],
                               f'{row} {head} {init}', index, total)
            with open(osp.join(work_dir, 'demo_results.json')) as f:
                cell = json.load(f)
            cell.update(row=row, head=head, init=init, paper_box_ap=paper, seconds=seconds,
                        config=osp.relpath(config, REPO))
            results['detection'][f'{row}|{head}|{init}'] = cell
            print(f'    box AP {cell["box AP"]:.3f} in {seconds / 60:.1f} min', flush=True)
    write_report(results, out_dir, 'paper_table', format_paper_table(results), plot_paper_table)
    return results


def format_paper_table(results):
    """Markdown: per row and head, the paper's COCO box AP, ours pretrained and from scratch, and the gain."""
    det = results['detection']
    lines = ['| norm (Table 2 row) | head | paper: COCO box AP | ours: pretrained | ours: from scratch | '
             'pretraining bought | pretrained classifier top-1 (%) |', '| --- | --- | ---: | ---: | ---: | ---: | ---: |']
    for (row, head), paper in PAPER_BOX_AP.items():
        pre, scratch = det[f'{row}|{head}|pretrained']['box AP'], det[f'{row}|{head}|scratch']['box AP']
        top1 = results['pretrain'][row]['top1']
        lines.append(f'| {row} | {head} | {paper:.2f} | {pre:.3f} | {scratch:.3f} | {pre - scratch:+.3f} | '
                     f'{top1:.2f} |')
    lines += ['', 'Differences to BN-frozen, same head (paper: COCO box AP points; ours: box AP on the shapes val split):',
              '', '| norm | head | paper | ours, pretrained | ours, from scratch |', '| --- | --- | ---: | ---: | ---: |']
    for (row, head), paper in PAPER_BOX_AP.items():
        if row == 'BN-frozen':
            continue
        base = PAPER_BOX_AP[('BN-frozen', head)]
        ours = [det[f'{row}|{head}|{init}']['box AP'] - det[f'BN-frozen|{head}|{init}']['box AP']
                for init in ('pretrained', 'scratch')]
        lines.append(f'| {row} | {head} | {paper - base:+.2f} | {ours[0]:+.3f} | {ours[1]:+.3f} |')
    return '\n'.join(lines)


def plot_paper_table(results, path):
    """Three panels: our box AP per row, pretrained and from scratch, for each head; the paper's Table 2."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    rows = list(PRETRAIN_CONFIGS)
    xs = range(len(rows))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for ax, head in zip(axes, HEADS):
        for offset, init, hatch in ((-0.2, 'pretrained', None), (0.2, 'scratch', '//')):
            values = [results['detection'][f'{row}|{head}|{init}']['box AP'] for row in rows]
            bars = ax.bar([x + offset for x in xs], values, width=0.4, hatch=hatch, label=init)
            ax.bar_label(bars, fmt='%.3f', fontsize=8)
        ax.set_xticks(list(xs), rows)
        ax.set(ylabel='box AP (0.5:0.95), shapes val split', title=f'ours: Faster R-CNN, {head} head')
        ax.legend(fontsize=8)
    paper = axes[2]
    for offset, head in ((-0.2, '2fc'), (0.2, '4conv1fc')):
        bars = paper.bar([x + offset for x in xs], [PAPER_BOX_AP[(row, head)] for row in rows], width=0.4,
                         label=f'{head} head')
        paper.bar_label(bars, fmt='%.2f', fontsize=8)
    paper.set_ylim(30, 41)
    paper.set_xticks(list(xs), rows)
    paper.set(ylabel='COCO box AP', title='paper (GW, CVPR 2021, Table 2): R-50-FPN 1x')
    paper.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', default=osp.join(REPO, 'results'), help='output directory')
    parser.add_argument('--work-root', default=osp.join('work_dirs', 'paper_table'))
    parser.add_argument('--pretrain-iters', type=int, help="pretraining iterations (default: the configs')")
    parser.add_argument('--det-iters', type=int, help="detector iterations (default: the configs')")
    parser.add_argument('--num-crops', type=int, help='training crops (val: a quarter); default: the configs')
    parser.add_argument('--num-images', type=int, help='detection training images (val: a quarter)')
    return parser.parse_args()


def main():
    args = parse_args()
    paper_table(args.out, args.work_root, args.pretrain_iters, args.det_iters, args.num_crops, args.num_images)


if __name__ == '__main__':
    main()
