# A Mask R-CNN small enough to train from scratch on 2 CPU cores in minutes: ResNet-18 at half width
# (base_channels=32), FPN and heads of 64 channels, anchors of scale 4 so that 14-px objects get positive
# anchors, 4conv1fc box head and the 4-conv mask head, so the norm under test sits in backbone, neck and
# both heads. `norm_cfg` is set whole by each config (see configs/demo/).
_base_ = 'mmdet::_base_/models/mask-rcnn_r50_fpn.py'

custom_imports = dict(imports=['normdet'], allow_failed_imports=False)
num_classes = 6
channels = 64

model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=18,
        base_channels=32,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_cfg=dict(type='GN', num_groups=32),
        norm_eval=False,
        style='pytorch',
        init_cfg=None),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=channels),
    rpn_head=dict(
        in_channels=channels,
        feat_channels=channels,
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=channels),
        bbox_head=dict(
            type='Shared4Conv1FCBBoxHead',
            in_channels=channels,
            conv_out_channels=channels,
            fc_out_channels=256,
            num_classes=num_classes),
        mask_roi_extractor=dict(out_channels=channels),
        mask_head=dict(in_channels=channels, conv_out_channels=channels, num_classes=num_classes)),
    # At most 8 objects per image: fewer proposals and sampled RoIs than COCO's 1000/512 cut the head cost
    # on a CPU without starving the heads of positives.
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=300),
        rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(
        rpn=dict(nms_pre=500, max_per_img=300),
        rcnn=dict(max_per_img=50)))
