"""Export a detector's feature extractor (backbone + neck, whatever its norms) to ONNX with a dynamic image
size, and check onnxruntime's feature maps against PyTorch's.

    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT --out model.onnx [--shape H W]
        [--check-shape H W] [--dynamo] [--opset 17] [--atol 1e-4] [--cfg-options k=v ...]

The model is built from CONFIG, loads CHECKPOINT (mmengine's ``{'state_dict': ...}``, as tools/train.py
writes) and is exported in evaluation mode, traced at H x W (default 800 x 1333) with the batch, height and
width of the input and of every feature map dynamic; by default with the TorchScript exporter
(``dynamo=False``, the one mmdeploy 1.x drives), with ``--dynamo`` with torch.export's. onnxruntime then
runs the file at H x W and at the --check-shape (default: H + 32 x W + 64, a size it was not traced at),
and the tool prints the largest absolute difference to PyTorch of each feature map; it exits with status
1 if one exceeds --atol. The RPN and RoI heads are not exported (their proposals, NMS and RoIAlign are
mmdeploy's business).
"""
import argparse
import sys

import torch
import torch.nn as nn
from mmengine.config import DictAction
from normdet.engine.entrypoints import build_model


def parse_args():
    parser = argparse.ArgumentParser(description="Export a detector's backbone and neck to ONNX and check it")
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help="checkpoint file ({'state_dict': ...})")
    parser.add_argument('--out', required=True, help='the ONNX file to write')
    parser.add_argument('--shape', type=int, nargs=2, default=[800, 1333], metavar=('H', 'W'),
                        help='image size the export is traced at (default: 800 1333)')
    parser.add_argument('--check-shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='a second image size onnxruntime is checked at (default: H + 32, W + 64)')
    parser.add_argument('--dynamo', action='store_true', help="torch.export's exporter instead of TorchScript's")
    parser.add_argument('--opset', type=int, default=17, help='ONNX opset (default: 17)')
    parser.add_argument('--atol', type=float, default=1e-4,
                        help='largest absolute difference to PyTorch accepted (default: 1e-4)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, as in tools/train.py')
    return parser.parse_args()


class FeatureExtractor(nn.Module):
    """A detector's ``extract_feat``: image (N, 3, H, W) -> its feature maps (the neck's levels, or the
    backbone's stages without a neck), as a tuple."""

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, image):
        return tuple(self.detector.extract_feat(image))


def export(model: nn.Module, image, out: str, dynamo: bool, opset: int) -> list:
    """Write ``model`` (traced on ``image``) to ``out`` with dynamic batch, height and width; returns the
    output names."""
    with torch.no_grad():
        num_outputs = len(model(image))
    outputs = [f'feat{i}' for i in range(num_outputs)]
    axes = {name: {0: 'batch', 2: f'{name}_height', 3: f'{name}_width'} for name in outputs}
    axes['image'] = {0: 'batch', 2: 'height', 3: 'width'}
    torch.onnx.export(model, (image, ), out, input_names=['image'], output_names=outputs, dynamic_axes=axes,
                      opset_version=opset, dynamo=dynamo)
    return outputs


def max_differences(model: nn.Module, out: str, image) -> list:
    """The largest |onnxruntime − PyTorch| of each output of ``model`` on ``image``."""
    import onnxruntime

    session = onnxruntime.InferenceSession(out, providers=['CPUExecutionProvider'])
    ours = session.run(None, {'image': image.numpy()})
    with torch.no_grad():
        theirs = model(image)
    if len(ours) != len(theirs):
        raise RuntimeError(f'{out} has {len(ours)} outputs, the model {len(theirs)}')
    return [float((torch.from_numpy(a) - b).abs().max()) for a, b in zip(ours, theirs)]


def main():
    args = parse_args()
    _, detector = build_model(args.config, args.cfg_options, checkpoint=args.checkpoint)
    if not hasattr(detector, 'extract_feat'):
        sys.exit(f'{args.config} builds a {type(detector).__name__}, which has no extract_feat (valid: an mmdet '
                 f'detector)')
    model = FeatureExtractor(detector).eval()
    height, width = args.shape
    check_h, check_w = args.check_shape or (height + 32, width + 64)
    torch.manual_seed(0)
    outputs = export(model, torch.randn(1, 3, height, width), args.out, args.dynamo, args.opset)
    exporter = 'dynamo' if args.dynamo else 'torchscript'
    print(f'{args.out}: {exporter} exporter, opset {args.opset}, outputs {", ".join(outputs)}')
    worst = 0.0
    for h, w in ((height, width), (check_h, check_w)):
        diffs = max_differences(model, args.out, torch.randn(1, 3, h, w))
        worst = max([worst] + diffs)
        print(f'{h}x{w}: max |onnxruntime - pytorch| per output: ' + ', '.join(f'{d:.2e}' for d in diffs))
    print(f'max difference: {worst:.2e} (atol {args.atol:g})')
    if worst > args.atol:
        sys.exit(1)


if __name__ == '__main__':
    main()
