# The classifier of `make paper-table`: the demo detectors' backbone (ResNet-18 at half width,
# base_channels=32, as PositionNormResNet with torchvision's layer names) with global average pooling and a
# linear head over the 6 shape classes. Its checkpoint's `backbone.*` tensors are the detector backbone's,
# key for key (init_cfg=dict(type='Pretrained', prefix='backbone.', checkpoint=...)).
_base_ = 'mmpretrain::_base_/models/resnet18.py'
custom_imports = dict(imports=['normdet'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='PositionNormResNet',
        depth=18,
        base_channels=32,
        num_stages=4,
        out_indices=(3, ),
        norm_cfg=dict(type='BN', requires_grad=True),
        style='pytorch'),
    head=dict(num_classes=6, in_channels=256, topk=(1, )))
