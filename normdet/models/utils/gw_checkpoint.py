"""Convert the Group Whitening authors' ImageNet checkpoints for :class:`PositionNormResNet` / ``ResNeXt``.

The authors' classification models (``resnet_whiten_010n``, ``resnext_whiten_010n`` in
github.com/huangleiBuaa/GroupWhitening) are torchvision ResNets whose stem ``bn1`` and every block's ``bn2``
are their ``GroupItN`` layer. The published files are saved from a DataParallel model, possibly inside a
training checkpoint, so keys look like ``module.layer1.0.bn2.weight`` under ``'state_dict'``.

The conversion:

* unwraps ``'state_dict'`` / ``'model'`` and strips ``module.`` prefixes;
* keeps the torchvision names (``conv1``, ``bn1``, ``layerS.B.conv1..3``, ``layerS.B.bn1..3``,
  ``layerS.B.downsample.0/1``), which are the names :class:`PositionNormResNet` gives every norm;
* reshapes norm affine parameters stored as (1, C, 1, 1) (``GroupItN``) to (C,) (normdet's layers, BN);
* drops the classifier ``fc``;
* reports every other key as not placed (and leaves it out).
"""
import re
from typing import Dict, List, NamedTuple

import torch
from mmdet.models.backbones import ResNet
from mmdet.models.backbones.resnet import BasicBlock, Bottleneck
from torch import Tensor

_NORM = r'(?:bn[123]|downsample\.1)'
_NORM_TENSORS = r'(?:weight|bias|running_mean|running_var|num_batches_tracked)'
_BACKBONE_KEY = re.compile(
    r'^(?:conv1\.weight'
    rf'|bn1\.{_NORM_TENSORS}'
    r'|layer[1-4]\.\d+\.(?:conv[123]\.weight|downsample\.0\.weight'
    rf'|{_NORM}\.{_NORM_TENSORS}))$')
_NORM_AFFINE_KEY = re.compile(rf'^(?:bn1|layer[1-4]\.\d+\.{_NORM})\.(?:weight|bias)$')
_CLASSIFIER_KEY = re.compile(r'^fc\.(?:weight|bias)$')


class GWCheckpointConversion(NamedTuple):
    """Result of :func:`convert_gw_checkpoint`."""
    state_dict: Dict[str, Tensor]  #: backbone keys, torchvision names, affine params of shape (C,)
    dropped: List[str]  #: the classifier keys, left out on purpose
    unplaced: List[str]  #: keys (or non-tensor entries) that fit no backbone position, left out
    reshaped: List[str]  #: norm affine params reshaped from (1, C, 1, 1) to (C,)


def unwrap_state_dict(checkpoint) -> Dict[str, object]:
    """The state dict inside a training checkpoint (``'state_dict'`` or ``'model'``), without the
    ``module.`` prefixes DataParallel/DDP add."""
    if not isinstance(checkpoint, dict):
        raise TypeError(f'expected a checkpoint dict, got {type(checkpoint).__name__}')
    for wrapper in ('state_dict', 'model'):
        if isinstance(checkpoint.get(wrapper), dict):
            checkpoint = checkpoint[wrapper]
            break
    state_dict = {}
    for key, value in checkpoint.items():
        while key.startswith('module.'):
            key = key[len('module.'):]
        state_dict[key] = value
    return state_dict


def load_source_checkpoint(path: str, trust: bool = False) -> Dict[str, object]:
    """Load a checkpoint file on the CPU and return its unwrapped state dict.

    Files are read with ``weights_only=True`` (tensors, dicts, numbers, strings). ``trust=True`` allows any
    pickled object, which runs code from the file: only for files from a source you trust.
    """
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=not trust)
    except Exception as error:
        if trust or 'weights_only' not in str(error):
            raise
        raise RuntimeError(
            f'{path} holds objects besides tensors, which torch.load refuses by default. If the file is the '
            f'authors\' published model (or another source you trust), convert it with --trust-source '
            f'(torch.load(weights_only=False) executes code pickled in the file).\n{error}') from error
    return unwrap_state_dict(checkpoint)


def convert_gw_checkpoint(state_dict: Dict[str, object]) -> GWCheckpointConversion:
    """Map an (unwrapped) torchvision-style GW ResNet/ResNeXt state dict to the backbone's keys."""
    converted, dropped, unplaced, reshaped = {}, [], [], []
    for key, value in unwrap_state_dict(state_dict).items():
        if _CLASSIFIER_KEY.match(key):
            dropped.append(key)
            continue
        if not isinstance(value, Tensor) or not _BACKBONE_KEY.match(key):
            unplaced.append(key)
            continue
        if _NORM_AFFINE_KEY.match(key) and value.dim() == 4 and value.shape[0] == 1 and value.shape[2:] == (1, 1):
            value = value.reshape(-1)
            reshaped.append(key)
        converted[key] = value
    return GWCheckpointConversion(converted, dropped, unplaced, reshaped)


def infer_backbone_cfg(state_dict: Dict[str, Tensor]) -> dict:
    """The ``PositionNormResNet`` / ``PositionNormResNeXt`` arguments (type, depth, groups, base_width) of a
    converted state dict, read from its block counts and the stage-1 grouped conv; the depth is the one
    mmdet's ``ResNet.arch_settings`` gives that block type and those counts."""
    blocks = []
    for stage in range(1, 5):
        indices = {int(m.group(1)) for k in state_dict for m in [re.match(rf'^layer{stage}\.(\d+)\.', k)] if m}
        blocks.append(len(indices))
    block = Bottleneck if 'layer1.0.conv3.weight' in state_dict else BasicBlock
    depth = next((d for d, arch in ResNet.arch_settings.items() if arch == (block, tuple(blocks))), None)
    if depth is None:
        raise ValueError(f'not a torchvision ResNet/ResNeXt: {block.__name__} blocks per stage {tuple(blocks)}')
    cfg = dict(type='PositionNormResNet', depth=depth)
    if block is Bottleneck:
        width, width_per_group = state_dict['layer1.0.conv2.weight'].shape[:2]
        groups = width // width_per_group
        if groups > 1:
            cfg = dict(type='PositionNormResNeXt', depth=depth, groups=groups, base_width=width // groups)
    return cfg


def check_against_backbone(state_dict: Dict[str, Tensor], backbone: torch.nn.Module) -> dict:
    """Load `state_dict` into `backbone` (``strict=False``) and list what did not fit.

    Returns a dict with ``missing`` (backbone keys absent from the file), ``unexpected`` (file keys the
    backbone lacks) and ``mismatched`` (``(key, file shape, backbone shape)``; such keys are not loaded).
    """
    target = backbone.state_dict()
    mismatched = [(k, tuple(v.shape), tuple(target[k].shape)) for k, v in state_dict.items()
                  if k in target and v.shape != target[k].shape]
    loadable = {k: v for k, v in state_dict.items() if k not in {m[0] for m in mismatched}}
    result = backbone.load_state_dict(loadable, strict=False)
    missing = sorted(set(result.missing_keys) | {m[0] for m in mismatched})
    return dict(missing=missing, unexpected=sorted(result.unexpected_keys), mismatched=mismatched)
