"""Train a detector (mmdet 3.3.0's tools/train.py flags) with normdet's layers registered.

    python tools/train.py CONFIG [--work-dir DIR] [--amp] [--auto-scale-lr] [--resume [CKPT]]
                                 [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]
"""
import argparse

import normdet  # noqa: F401  (fills the registries: norm layers, backbones, NormDetRunner, ...)
from normdet.engine.entrypoints import parse_tool_args, train


def parse_args():
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp', action='store_true', default=False,
        help='enable automatic-mixed-precision training (bfloat16 autocast on CPU)')
    parser.add_argument('--auto-scale-lr', action='store_true', help='enable automatically scaling LR.')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='If specify checkpoint path, resume from it, while if not specify, try to auto resume '
        'from the latest checkpoint in the work directory.')
    return parse_tool_args(parser)


if __name__ == '__main__':
    train(parse_args())
