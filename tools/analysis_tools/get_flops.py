"""FLOPs and parameters of the model of any config, normdet's layers counted by their rules.

    python tools/analysis_tools/get_flops.py CONFIG [CHECKPOINT] [--shape H W] [--cfg-options k=v ...] [--table DEPTH]

Counts one forward in evaluation mode (``mode='tensor'``: a detector's backbone, neck, RPN and RoI heads on
its test-time proposals) of one random image of H x W (default 800 x 1333, a COCO test image) with
mmengine's complexity counter, a multiply-add counted as one FLOP, as mmdet's ``get_flops.py`` counts;
normdet's layers are counted as modules by the rules of :mod:`normdet.layers.flops`
(:class:`~normdet.layers.NormFlopAnalyzer`). Ops the counter has no rule for are listed as unsupported
(they count zero). The per-module table (``--table DEPTH``) has each module's FLOPs and parameters.
"""
import argparse

import torch
from mmengine.analysis.print_helper import _format_size, complexity_stats_table
from mmengine.config import DictAction

from normdet.engine.entrypoints import build_model, count_flops


def parse_args():
    parser = argparse.ArgumentParser(description='FLOPs and parameters of the model of a config')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', nargs='?', help='weights to load (default: the config\'s initialisation)')
    parser.add_argument('--shape', type=int, nargs=2, default=[800, 1333], metavar=('H', 'W'),
                        help='input image size (default: 800 1333)')
    parser.add_argument('--table', type=int, default=0, metavar='DEPTH',
                        help='also print the per-module table down to this depth')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, as in tools/train.py')
    return parser.parse_args()


def count(config: str, height: int, width: int, cfg_options=None, checkpoint=None):
    """(flop analyzer, parameter count) of the model of ``config`` (with the weights of ``checkpoint``, if
    given: the RoI heads' FLOPs depend on how many proposals the RPN keeps) on one H x W image."""
    _, model = build_model(config, cfg_options, checkpoint)
    return count_flops(model, height, width)


def main():
    args = parse_args()
    height, width = args.shape
    with torch.no_grad():
        analyzer, params = count(args.config, height, width, args.cfg_options, args.checkpoint)
    flops = analyzer.total()
    if args.table:
        print(complexity_stats_table(analyzer, max_depth=args.table, show_param_shapes=False))
    by_op = ', '.join(f'{op} {_format_size(n)}' for op, n in analyzer.by_operator().most_common())
    unsupported = ', '.join(f'{op} x{n}' for op, n in sorted(analyzer.unsupported_ops().items()))
    print(f'Config: {args.config}\nInput shape: (1, 3, {height}, {width})\n'
          f'FLOPs: {_format_size(flops)} ({flops} multiply-adds)\nParams: {_format_size(params)} ({params})\n'
          f'By operator: {by_op}\nUncounted (no rule): {unsupported or "none"}')


if __name__ == '__main__':
    main()
