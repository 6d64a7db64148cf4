# The Faster R-CNN of `make paper-table` (configs/paper_table/): the demo's ResNet-18 at half width
# (base_channels=32) as PositionNormResNet, so that any norm can sit at any position and a classifier
# pretrained on shape crops (configs/paper_table/resnet18-w32_*_shapes-crops.py) initialises it key for
# key; FPN of 64 channels; anchors of scale 4 for the 14-px objects. The box head is set by each config:
# 2fc (Shared2FCBBoxHead) or 4conv1fc (XConvFCBBoxHead, the authors' head), as the two columns of the GW
# paper's Table 2.
_base_ = 'mmdet::_base_/models/faster-rcnn_r50_fpn.py'

custom_imports = dict(imports=['normdet'], allow_failed_imports=False)
num_classes = 6
channels = 64

model = dict(
    backbone=dict(
        _delete_=True,
        type='PositionNormResNet',
        depth=18,
        base_channels=32,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        init_cfg=None),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=channels),
    rpn_head=dict(in_channels=channels, feat_channels=channels, anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=channels),
        bbox_head=dict(in_channels=channels, fc_out_channels=256, num_classes=num_classes)),
    train_cfg=dict(rpn_proposal=dict(nms_pre=1000, max_per_img=300), rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300), rcnn=dict(max_per_img=50)))
