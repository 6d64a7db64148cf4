"""ResNet and ResNeXt with one norm config per position, under torchvision's layer names.

Group Whitening's detection backbones (Huang et al., CVPR 2021; models ``resnet_whiten_010n`` and
``resnext_whiten_010n``) put GW after the stem conv and after each bottleneck's 3x3 conv and keep (frozen)
BN in the other positions. mmdet's ``ResNet`` takes one ``norm_cfg`` for every position and names each
layer from the norm type (``gn1``, ``gw2``, ...), so neither the placement nor the checkpoints fit it.

Here every norm keeps the name a BN-everywhere mmdet/torchvision ResNet gives it, whatever its type:

=====================  ==========================  ==============================
position               layer name                  config (unset: ``norm_cfg``)
=====================  ==========================  ==============================
stem, after conv1      ``bn1`` (``stem.1/4/7``)    ``stem_norm_cfg``
block, after conv1     ``layerS.B.bn1``            ``norm1_cfg``
block, after conv2     ``layerS.B.bn2``            ``norm2_cfg``
block, after conv3     ``layerS.B.bn3``            ``norm3_cfg`` (bottlenecks only)
shortcut projection    ``layerS.0.downsample.1``   ``downsample_norm_cfg``
=====================  ==========================  ==============================

so torchvision / mmdet BN checkpoints load into every BN position and the authors' GW checkpoints,
converted by ``tools/model_converters/gw2normdet.py``, load whole.
"""
import os.path as osp
from collections import OrderedDict

import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmdet.models.backbones.resnet import BasicBlock, Bottleneck, ResNet
from mmdet.models.backbones.resnext import Bottleneck as ResNeXtBottleneck
from mmdet.models.backbones.resnext import ResNeXt
from mmdet.registry import MODELS

from normdet.layers import freeze_running_stats

POSITIONS = ('stem', 'norm1', 'norm2', 'norm3', 'downsample')

_DEFAULT_CHECKPOINT_HINT = (
    'For the Group Whitening backbones, download the authors\' ImageNet model (links in the README of '
    'github.com/huangleiBuaa/GroupWhitening) and convert it: '
    'python tools/model_converters/gw2normdet.py <downloaded.pth> <this path>. '
    'Or pretrain the backbone on ImageNet with its config in configs/pretrain/ '
    '(tools/dist_train.sh configs/pretrain/<config>.py 8) and load that checkpoint with '
    "init_cfg=dict(type='Pretrained', prefix='backbone.', checkpoint=<work_dir>/epoch_100.pth).")


def _replace_child(parent: nn.Module, old_name: str, new_name: str, module: nn.Module) -> None:
    """Swap child `old_name` for `module` registered as `new_name`, in the same place of the module order
    (so printing, ``named_modules`` and ``state_dict`` order stay those of the plain network)."""
    if new_name != old_name and new_name in parent._modules:
        raise KeyError(f'{type(parent).__name__} already has a child named {new_name!r}')
    parent._modules = OrderedDict(
        (new_name, module) if name == old_name else (name, child) for name, child in parent._modules.items())


class _PositionNormBlockMixin:
    """Rebuilds a block's norms from per-position configs under the names ``bn1``, ``bn2``, (``bn3``).

    The parent block has already built its norms from the fallback ``norm_cfg``; each one is replaced in
    place, sized by the conv before it, and ``normX_name`` is pointed at the new name so mmdet's ``normX``
    properties, ``zero_init_residual`` overrides and ``frozen_stages`` keep working.

    ``norm3_cfg`` is accepted by every block so that one backbone config serves every depth; a basic block
    has no third norm and ignores it.
    """

    def __init__(self, inplanes, planes, norm1_cfg=None, norm2_cfg=None, norm3_cfg=None,
                 norm_cfg=dict(type='BN'), **kwargs):
        super().__init__(inplanes, planes, norm_cfg=norm_cfg, **kwargs)
        cfgs = {1: norm1_cfg, 2: norm2_cfg, 3: norm3_cfg}
        self._place_norms({position: cfg or norm_cfg for position, cfg in cfgs.items()
                           if hasattr(self, f'norm{position}_name')})

    def _place_norms(self, cfgs: dict) -> None:
        for position, cfg in cfgs.items():
            num_features = getattr(self, f'conv{position}').out_channels
            _, layer = build_norm_layer(cfg, num_features, postfix=position)
            old_name = getattr(self, f'norm{position}_name')
            new_name = f'bn{position}'
            _replace_child(self, old_name, new_name, layer)
            setattr(self, f'norm{position}_name', new_name)


class PositionNormBasicBlock(_PositionNormBlockMixin, BasicBlock):
    """mmdet's ``BasicBlock`` with ``norm1_cfg`` (after conv1) and ``norm2_cfg`` (after conv2)."""


class PositionNormBottleneck(_PositionNormBlockMixin, Bottleneck):
    """mmdet's ResNet ``Bottleneck`` with ``norm1_cfg``, ``norm2_cfg`` (after the 3x3 conv), ``norm3_cfg``."""


class PositionNormResNeXtBottleneck(_PositionNormBlockMixin, ResNeXtBottleneck):
    """mmdet's ResNeXt ``Bottleneck`` (grouped 3x3 conv) with per-position norm configs."""


def check_local_pretrained(init_cfg, hint: str = None) -> None:
    """Raise FileNotFoundError, with how to make the file, when `init_cfg` loads a local checkpoint that is
    not there. URLs (``torchvision://``, ``open-mmlab://``, ``http(s)://`` ...) are left to mmengine."""
    cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    for cfg in cfgs:
        if not isinstance(cfg, dict) or cfg.get('type') != 'Pretrained':
            continue
        checkpoint = cfg.get('checkpoint')
        if not isinstance(checkpoint, str) or '://' in checkpoint or osp.isfile(checkpoint):
            continue
        raise FileNotFoundError(
            f'Pretrained backbone weights not found: {checkpoint!r} (absolute: {osp.abspath(checkpoint)!r}). '
            f'{hint or _DEFAULT_CHECKPOINT_HINT}')


class _PositionNormResNetMixin:
    """What :class:`PositionNormResNet` and :class:`PositionNormResNeXt` add to mmdet's backbones."""

    def __init__(self,
                 depth,
                 norm_cfg=dict(type='BN', requires_grad=True),
                 stem_norm_cfg=None,
                 norm1_cfg=None,
                 norm2_cfg=None,
                 norm3_cfg=None,
                 downsample_norm_cfg=None,
                 norm_eval_positions=None,
                 zero_init_residual=True,
                 pretrained=None,
                 init_cfg=None,
                 checkpoint_hint=None,
                 **kwargs):
        # Set before mmdet's __init__, which builds the stem and stages through the hooks below.
        self.stem_norm_cfg = stem_norm_cfg or norm_cfg
        self.block_norm_cfgs = dict(
            norm1_cfg=norm1_cfg or norm_cfg, norm2_cfg=norm2_cfg or norm_cfg, norm3_cfg=norm3_cfg or norm_cfg)
        self.downsample_norm_cfg = downsample_norm_cfg or norm_cfg
        if norm_eval_positions is not None:
            unknown = set(norm_eval_positions) - set(POSITIONS)
            if unknown:
                raise ValueError(f'norm_eval_positions: unknown {sorted(unknown)}; positions are {POSITIONS}')
            norm_eval_positions = tuple(norm_eval_positions)
        self.norm_eval_positions = norm_eval_positions
        # mmdet decides zero_init_residual with `block is Bottleneck`, which no subclass passes.
        self._zero_init_last_norm = zero_init_residual and init_cfg is None and pretrained is None
        self.checkpoint_hint = checkpoint_hint
        super().__init__(depth=depth, norm_cfg=norm_cfg, zero_init_residual=zero_init_residual,
                         pretrained=pretrained, init_cfg=init_cfg, **kwargs)

    def _make_stem_layer(self, in_channels, stem_channels):
        super()._make_stem_layer(in_channels, stem_channels)
        if self.deep_stem:
            # stem = (conv, norm, relu) x 3: the norms sit at 1, 4, 7 and keep their Sequential indices.
            for index in (1, 4, 7):
                num_features = self.stem[index - 1].out_channels
                self.stem[index] = build_norm_layer(self.stem_norm_cfg, num_features)[1]
        else:
            _, layer = build_norm_layer(self.stem_norm_cfg, self.conv1.out_channels, postfix=1)
            _replace_child(self, self.norm1_name, 'bn1', layer)
            self.norm1_name = 'bn1'

    def make_res_layer(self, **kwargs):
        # ResLayer builds the shortcut norm from `norm_cfg` and hands the rest of kwargs to every block.
        kwargs['norm_cfg'] = self.downsample_norm_cfg
        kwargs.update(self.block_norm_cfgs)
        if self._zero_init_last_norm and kwargs.get('init_cfg') is None:
            last_norm = 'norm3' if issubclass(kwargs['block'], Bottleneck) else 'norm2'
            kwargs['init_cfg'] = dict(type='Constant', val=0, override=dict(name=last_norm))
        return super().make_res_layer(**kwargs)

    def train(self, mode: bool = True):
        """mmdet's train() with ``norm_eval`` extended from torch's BatchNorms to every layer with running
        statistics (BGN, GNPlus, ItN, SWBN; GW and GN have none) and limited to ``norm_eval_positions``."""
        nn.Module.train(self, mode)  # what mmdet's ResNet.train does before its BatchNorm-only norm_eval
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self._norm_eval_modules():
                freeze_running_stats(module)
        return self

    def _norm_eval_modules(self):
        if self.norm_eval_positions is None:
            return [self]
        modules = []
        if 'stem' in self.norm_eval_positions:
            modules += [self.stem[i] for i in (1, 4, 7)] if self.deep_stem else [self.norm1]
        for layer_name in self.res_layers:
            for block in getattr(self, layer_name):
                modules += [getattr(block, f'norm{p}') for p in (1, 2, 3)
                            if f'norm{p}' in self.norm_eval_positions and hasattr(block, f'norm{p}_name')]
                if 'downsample' in self.norm_eval_positions and block.downsample is not None:
                    modules.append(block.downsample[-1])
        return modules

    def init_weights(self):
        check_local_pretrained(self.init_cfg, self.checkpoint_hint)
        super().init_weights()


@MODELS.register_module()
class PositionNormResNet(_PositionNormResNetMixin, ResNet):
    """mmdet's ``ResNet`` with a norm config per position and torchvision's layer names.

    Args:
        stem_norm_cfg (dict, optional): norm after the stem conv(s). Default: ``norm_cfg``.
        norm1_cfg, norm2_cfg, norm3_cfg (dict, optional): norms after each block's conv1, conv2 (the 3x3
            conv of a bottleneck), conv3 (bottlenecks only). Default: ``norm_cfg``.
        downsample_norm_cfg (dict, optional): norm of the shortcut projection. Default: ``norm_cfg``.
        norm_eval_positions (sequence[str], optional): the positions ('stem', 'norm1', 'norm2', 'norm3',
            'downsample') whose running statistics ``norm_eval=True`` freezes. Default: all. Restrict it when
            a position holds a batch-statistics norm with no pretrained statistics (e.g. BGN after the 3x3
            convs of a torchvision ResNet with frozen BN elsewhere): frozen, such a layer would normalise
            with its initial statistics forever.
        checkpoint_hint (str, optional): how to obtain a local ``Pretrained`` checkpoint; raised in a
            FileNotFoundError from ``init_weights`` when the file is missing.
        **kwargs: mmdet's ``ResNet`` arguments. ``norm_eval=True`` also puts the normdet layers with running
            statistics in eval mode; ``frozen_stages`` freezes every layer of the frozen stages, plugin norms
            included; ``zero_init_residual`` zero-initialises the last norm of each block of any type.

    The Group Whitening placement (paper and authors' detection code), frozen BN elsewhere::

        >>> gw, frozen_bn = dict(type='GW', num_groups=64), dict(type='BN', requires_grad=False)
        >>> backbone = PositionNormResNet(depth=50, norm_cfg=frozen_bn, stem_norm_cfg=gw, norm2_cfg=gw,
        ...                               frozen_stages=1, norm_eval=True)
        >>> type(backbone.layer1[0].bn2).__name__, type(backbone.layer1[0].bn3).__name__
        ('GroupWhitening', 'BatchNorm2d')
    """

    arch_settings = {
        18: (PositionNormBasicBlock, (2, 2, 2, 2)),
        34: (PositionNormBasicBlock, (3, 4, 6, 3)),
        50: (PositionNormBottleneck, (3, 4, 6, 3)),
        101: (PositionNormBottleneck, (3, 4, 23, 3)),
        152: (PositionNormBottleneck, (3, 8, 36, 3))
    }


@MODELS.register_module()
class PositionNormResNeXt(_PositionNormResNetMixin, ResNeXt):
    """mmdet's ``ResNeXt`` (``groups``, ``base_width``) with a norm config per position and torchvision's
    layer names; the arguments are those of :class:`PositionNormResNet`.

    The paper's Mask R-CNN backbone, ResNeXt-101 32x8d with GW::

        >>> gw, frozen_bn = dict(type='GW', num_groups=64), dict(type='BN', requires_grad=False)
        >>> backbone = PositionNormResNeXt(depth=101, groups=32, base_width=8, norm_cfg=frozen_bn,
        ...                                stem_norm_cfg=gw, norm2_cfg=gw)
    """

    arch_settings = {
        50: (PositionNormResNeXtBottleneck, (3, 4, 6, 3)),
        101: (PositionNormResNeXtBottleneck, (3, 4, 23, 3)),
        152: (PositionNormResNeXtBottleneck, (3, 8, 36, 3))
    }
