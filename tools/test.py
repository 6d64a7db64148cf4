"""Test (and evaluate) a checkpoint (mmdet 3.3.0's tools/test.py flags) with normdet's layers registered.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out results.pkl] [--show] [--show-dir DIR]
                                           [--wait-time S] [--cfg-options k=v ...] [--tta]
                                           [--launcher none|pytorch|slurm|mpi]
"""
import argparse

import normdet  # noqa: F401  (fills the registries: norm layers, backbones, NormDetRunner, ...)
from normdet.engine.entrypoints import parse_tool_args, test


def parse_args():
    parser = argparse.ArgumentParser(description='MMDet (or, by the config, MMPretrain) test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the directory to save the file containing evaluation metrics')
    parser.add_argument('--out', type=str, help='dump predictions to a pickle file for offline evaluation')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images will be saved. If specified, it will be automatically '
        'saved to the work_dir/timestamp/show_dir (classification configs: to this directory, as mmpretrain)')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument('--tta', action='store_true', help='test-time augmentation (flip), as mmdet or, for classification configs, mmpretrain')
    return parse_tool_args(parser)


if __name__ == '__main__':
    test(parse_args())
