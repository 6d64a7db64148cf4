"""Convert the Group Whitening authors' ImageNet model to a normdet backbone checkpoint.

    python tools/model_converters/gw2normdet.py SRC.pth checkpoints/gw_resnet50_imagenet_converted.pth

SRC is one of the ImageNet GW models linked from the README of github.com/huangleiBuaa/GroupWhitening
(ResNet-50 / ResNet-101 / ResNeXt-50 32x4d / ResNeXt-101 32x8d). The output holds ``{'state_dict': ...}``
with torchvision key names, loadable by ``PositionNormResNet`` / ``PositionNormResNeXt`` with GW after the
stem conv and every 3x3 conv (``init_cfg=dict(type='Pretrained', checkpoint=DST)``). The script prints
every key it dropped (the classifier) or could not place, then loads the result into the matching backbone
and lists what did not fit; it exits with status 1 if anything did not.
"""
import argparse
import os
import os.path as osp
import sys

import torch


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help="the authors' checkpoint (.pth / .pth.tar)")
    parser.add_argument('dst', help='where to write the converted checkpoint')
    parser.add_argument('--trust-source', action='store_true',
                        help='allow pickled objects besides tensors in SRC (torch.load weights_only=False; '
                             'runs code from the file: only for a file you trust)')
    parser.add_argument('--no-check', action='store_true',
                        help='skip loading the result into the GW backbone')
    return parser.parse_args()


def main():
    args = parse_args()
    import normdet  # noqa: F401  (registers GW and the backbones)
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope

    from normdet.models.utils import (check_against_backbone, convert_gw_checkpoint, infer_backbone_cfg,
                                      load_source_checkpoint)

    result = convert_gw_checkpoint(load_source_checkpoint(args.src, trust=args.trust_source))
    print(f'{len(result.state_dict)} keys converted, {len(result.reshaped)} norm affine parameters '
          f'reshaped from (1, C, 1, 1) to (C,)')
    if result.dropped:
        print(f'dropped (classifier): {", ".join(result.dropped)}')
    for key in result.unplaced:
        print(f'NOT PLACED: {key}')

    problems = bool(result.unplaced)
    if not args.no_check:
        init_default_scope('mmdet')
        cfg = infer_backbone_cfg(result.state_dict)
        gw = dict(type='GW', num_groups=64)
        backbone = MODELS.build(dict(cfg, norm_cfg=dict(type='BN', requires_grad=False), stem_norm_cfg=gw,
                                     norm2_cfg=gw))
        report = check_against_backbone(result.state_dict, backbone)
        print(f'checked against {cfg}: GW after the stem conv and each 3x3 conv, BN elsewhere')
        for key in report['missing']:
            print(f'MISSING in the converted file: {key}')
        for key in report['unexpected']:
            print(f'UNEXPECTED by the backbone: {key}')
        for key, file_shape, model_shape in report['mismatched']:
            print(f'SHAPE MISMATCH: {key} file {file_shape} backbone {model_shape}')
        problems |= any(report.values())

    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    meta = dict(source=osp.basename(args.src), converted_by='normdet tools/model_converters/gw2normdet.py')
    torch.save(dict(state_dict=result.state_dict, meta=meta), args.dst)
    print(f'saved {args.dst}' + (' (with the problems listed above)' if problems else ''))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
