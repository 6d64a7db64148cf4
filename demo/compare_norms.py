"""Run the CPU demo protocol (same data, seed and schedule) for every norm of configs/demo/ and write
results/compare.md, results/compare.json and results/compare.png.

    python demo/compare_norms.py [--only GN GW ...] [--out results] [--reuse-runs] [--work-root DIR]

Each config runs ``demo/shapes_demo.py`` in its own process, so that peak memory and timing are its own;
with ``--reuse-runs``, a config whose work dir holds a finished run (its ``demo_results.json`` for the
config's iterations and the checkpoint it names) is not trained again, its results are read from there.
After the trainings, one pass in this process measures each trained model's inference
(:func:`measure_inference`): milliseconds per image (one image of the test set, batch 1, ``test_step``:
preprocessing to postprocessing; all rows interleaved, warm-up discarded, median), the same after
:func:`normdet.layers.fold_norms` for rows with foldable layers, and GFLOPs at that image's size
(``tools/analysis_tools/get_flops.py``'s count). ``python demo/compare_norms.py --reuse-runs`` fills those
columns from existing runs.
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


def finished_run(work_dir, config):
    """Whether ``work_dir`` holds a finished demo run of ``config`` (relative to the repository): its
    ``demo_results.json`` for the config's number of iterations and the checkpoint it names."""
    from mmengine.config import Config

    path = osp.join(work_dir, 'demo_results.json')
    if not osp.isfile(path):
        return False
    with open(path) as f:
        result = json.load(f)
    max_iters = Config.fromfile(osp.join(REPO, config)).train_cfg.get('max_iters')
    return result.get('iterations') == max_iters and osp.isfile(run_checkpoint(work_dir, result))


def run_checkpoint(work_dir, result):
    """The checkpoint of the run whose ``demo_results.json`` is ``result``, in ``work_dir`` (the file
    records it relative to the directory the run started in)."""
    return osp.join(work_dir, osp.basename(result['checkpoint']))


def compare_norms(configs, out_dir, work_root='work_dirs/compare', python=sys.executable, reuse_runs=False,
                  inference=True, inference_repeats=11, inference_warmup=2):
    """Run the demo protocol for every ``{name: config relative to the repository}`` in its own process
    (with ``reuse_runs``, only those without a finished run in their work dir), then, with ``inference``,
    :func:`measure_inference` of the trained models; write compare.md/.json/.png to out_dir."""
    os.makedirs(out_dir, exist_ok=True)
    results, checkpoints = {}, {}
    for name, config in configs.items():
        work_dir = osp.join(work_root, osp.splitext(osp.basename(config))[0])
        if reuse_runs and finished_run(work_dir, config):
            print(f'== {name}: {config} (finished run in {work_dir}, not trained again)', flush=True)
        else:
            print(f'== {name}: {config}', flush=True)
            subprocess.run([python, SHAPES_DEMO, osp.join(REPO, config), '--work-dir', work_dir], check=True)
        with open(osp.join(work_dir, 'demo_results.json')) as f:
            results[name] = json.load(f)
        checkpoints[name] = run_checkpoint(work_dir, results[name])
        results[name]['config'] = config  # the table shows it as the repository names it
        results[name]['loss_curve'] = loss_curve(work_dir)
    if inference:
        print('== inference: every trained model on one test image, interleaved', flush=True)
        measured = measure_inference({name: (configs[name], checkpoints[name]) for name in configs},
                                     repeats=inference_repeats, warmup=inference_warmup)
        for name, values in measured.items():
            results[name].update(values)
    write_report(results, out_dir, 'compare', format_compare_table(results), plot_compare)
    return results


def measure_inference(runs, repeats=11, warmup=2, cfg_options=None):
    """Inference of trained models, in this process: ``{name: (config relative to the repository,
    checkpoint)}`` -> ``{name: values}``.

    Each model is built with its checkpoint in evaluation mode and called through ``test_step`` (data
    preprocessor, detector, postprocessing) on the first image of the first config's test data loader, batch
    1; all models, and the folded copies (:func:`normdet.layers.folded_copy`) of those with foldable layers,
    run interleaved (:class:`~normdet.utils.benchmark.InferenceBenchmark`). The values: ``ms_per_image``
    (median) with ``ms_per_image_q1``/``_q3``; ``folded_ms_per_image`` (None when nothing folds) and
    ``normdet_layers``/``folded_layers``; ``gflops`` and ``params`` of the trained model at that image's
    size (:func:`normdet.engine.entrypoints.count_flops`, as ``tools/analysis_tools/get_flops.py``);
    ``inference_shape``, ``inference_repeats``, ``torch_threads``."""
    import copy

    import torch
    from mmengine.runner import Runner

    from normdet.engine.entrypoints import build_model, count_flops
    from normdet.layers import folded_copy
    from normdet.utils.benchmark import InferenceBenchmark

    models, values, batch = {}, {}, None
    for name, (config, checkpoint) in runs.items():
        cfg, model = build_model(osp.join(REPO, config), cfg_options, checkpoint)
        model.eval()
        if batch is None:
            loader = Runner.build_dataloader(dict(cfg.test_dataloader, batch_size=1))
            batch = next(iter(loader))
            height, width = batch['inputs'][0].shape[-2:]
        with torch.no_grad():
            analyzer, params = count_flops(copy.deepcopy(model), height, width)
        folded, layers, folded_layers = folded_copy(model)
        models[name] = model
        if folded_layers:
            models[f'{name} folded'] = folded
        values[name] = dict(gflops=analyzer.total() / 1e9, params=params, normdet_layers=layers,
                            folded_layers=folded_layers, inference_shape=[int(height), int(width)],
                            inference_repeats=repeats, torch_threads=torch.get_num_threads())
    seconds = InferenceBenchmark(models, batch, repeats=repeats, warmup=warmup).run()
    for name, v in values.items():
        t = seconds[name]
        v.update(ms_per_image=t['median'] * 1e3, ms_per_image_q1=t['q1'] * 1e3, ms_per_image_q3=t['q3'] * 1e3)
        folded = seconds.get(f'{name} folded')
        v['folded_ms_per_image'] = folded['median'] * 1e3 if folded else None
    return values


def format_compare_table(results):
    """The Markdown table of compare.md: one row per norm; the inference columns show '–' for a row
    without them (not measured, or, for the folded time, nothing folds)."""
    def value(r, key, fmt):
        return format(r[key], fmt) if r.get(key) is not None else '–'

    lines = ['| norm | box AP | AP50 | mask AP | s / iter | peak memory (MiB) | ms / image | ms / image folded '
             '| GFLOPs | config |',
             '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |']
    for name, r in results.items():
        lines.append(f'| {name} | {r["box AP"]:.3f} | {r["AP50"]:.3f} | {r["mask AP"]:.3f} | '
                     f'{r["seconds_per_iter"]:.3f} | {r["peak_memory_mb"]:.0f} | {value(r, "ms_per_image", ".0f")} | '
                     f'{value(r, "folded_ms_per_image", ".0f")} | {value(r, "gflops", ".3f")} | `{r["config"]}` |')
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
    parser.add_argument('--work-root', default='work_dirs/compare', help='where each config\'s work dir goes')
    parser.add_argument('--reuse-runs', action='store_true',
                        help='do not train a config whose work dir holds a finished run; read its results')
    parser.add_argument('--inference-repeats', type=int, default=11,
                        help='timed inference calls of each model (median), after 2 discarded')
    return parser.parse_args()


def main():
    configs = compared_configs()
    args = parse_args(list(configs))
    compare_norms({k: v for k, v in configs.items() if not args.only or k in args.only}, out_dir=args.out,
                  work_root=args.work_root, reuse_runs=args.reuse_runs, inference_repeats=args.inference_repeats)


if __name__ == '__main__':
    main()
