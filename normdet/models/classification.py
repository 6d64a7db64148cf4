"""PositionNormResNet and PositionNormResNeXt as mmpretrain backbones (configs/pretrain/).

An mmpretrain config (``default_scope = 'mmpretrain'``) looks an unprefixed type up in mmpretrain's
``MODELS`` and then its ancestors (mmengine's root registry, where normdet's norm layers live), never in
mmdet's ``MODELS``, a sibling, where the backbones are registered for the detectors. Registering the same
classes in mmpretrain's registry too lets an ImageNet config say::

    model = dict(type='ImageClassifier',
                 backbone=dict(type='PositionNormResNet', depth=50, out_indices=(3, ),
                               stem_norm_cfg=dict(type='GW', num_groups=64),
                               norm2_cfg=dict(type='GW', num_groups=64)),
                 neck=dict(type='GlobalAveragePooling'),
                 head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048))

and its checkpoint, whose backbone keys are ``backbone.conv1.weight``, ``backbone.bn1.weight``,
``backbone.layer1.0.bn2.weight``, ... whatever the norm type, loads into a detector's backbone of the same
class with ``init_cfg=dict(type='Pretrained', prefix='backbone.', checkpoint=...)``.

Importing mmpretrain here costs nothing extra: mmdet's models (imported by the backbones) already import
it when it is installed.
"""
from mmpretrain.registry import MODELS

from .backbones import PositionNormResNet, PositionNormResNeXt

for _backbone in (PositionNormResNet, PositionNormResNeXt):
    MODELS.register_module(module=_backbone)
