"""What folding the normdet layers for inference saves: one image through a config's model in evaluation,
as built and after :func:`normdet.layers.fold_norms`, timed interleaved in one process.

    python tools/analysis_tools/benchmark_folding.py CONFIG [CHECKPOINT] [--shape H W] [--repeats N] [--cfg-options k=v ...]

Prints the median seconds of each (``mode='tensor'``: backbone, neck, RPN and RoI heads on the test-time
proposals of one random image), their ratio, how many layers were folded, and the largest difference of
the two models' feature maps (``extract_feat``: after the last norm of the neck; the heads' outputs depend
on which proposals survive NMS, which float32 rounding can reorder). Without a checkpoint the weights are
the config's initialisation, with running statistics as built.
"""
import argparse

import torch
from mmengine.config import DictAction

from normdet.engine.entrypoints import build_model, tensor_forward
from normdet.layers import folded_copy
from normdet.utils.benchmark import InferenceBenchmark


def parse_args():
    parser = argparse.ArgumentParser(description='inference time of a model with and without folded norms')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', nargs='?', help='weights to load (e.g. a work dir\'s iter_N.pth)')
    parser.add_argument('--shape', type=int, nargs=2, default=[800, 1333], metavar=('H', 'W'))
    parser.add_argument('--repeats', type=int, default=11, help='timed calls of each model (median)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def measure(config, checkpoint=None, shape=(800, 1333), repeats=11, cfg_options=None) -> dict:
    """Median seconds of the model as built and folded, layers folded of all, largest feature-map difference."""
    _, model = build_model(config, cfg_options, checkpoint)
    model.eval()
    folded, count, folded_count = folded_copy(model)
    torch.manual_seed(0)
    model, inputs = tensor_forward(model, *shape)
    folded, _ = tensor_forward(folded, *shape)
    with torch.no_grad():  # also the warm-up call of each model
        features = [m.extract_feat(inputs) if hasattr(m, 'extract_feat') else m(inputs) for m in (model, folded)]
    times = InferenceBenchmark({'as built': model, 'folded': folded}, inputs, repeats=repeats, warmup=0,
                               forward=lambda m, x: m(x)).run()
    leaves = [torch.utils._pytree.tree_leaves(f) for f in features]
    return dict(layers=count, folded=folded_count,
                seconds={name: t['median'] for name, t in times.items()},
                difference=max(float((a - b).abs().max()) for a, b in zip(*leaves) if a.numel()))


def main():
    args = parse_args()
    r = measure(args.config, args.checkpoint, args.shape, args.repeats, args.cfg_options)
    built, fast = r['seconds']['as built'], r['seconds']['folded']
    print(f'{args.config} at {args.shape[0]}x{args.shape[1]}: {r["folded"]} of {r["layers"]} normdet layers folded; '
          f'as built {built * 1e3:.1f} ms, folded {fast * 1e3:.1f} ms ({fast / built:.2f}x); '
          f'largest feature-map difference {r["difference"]:.2e}')


if __name__ == '__main__':
    main()
