# CPU demo (`make demo`): Mask R-CNN with Group Whitening in the GW paper's placement, from scratch.
# Backbone: GW(64 groups; clipped to C where C < 64) after the stem conv and after each block's second 3x3
# conv, as the paper's resnet_whiten_010n. The paper keeps frozen ImageNet BN at the other positions; from
# scratch there are no statistics to freeze, so they hold GN(32), the standard from-scratch norm. FPN, the
# 4 box-head convs and the 4 mask-head convs are followed by GW, as in the paper's Mask R-CNN setting.
_base_ = [
    '../_base_/models/mask-rcnn_r18-w32_fpn_shapes.py', '../_base_/datasets/shapes_instance.py',
    '../_base_/schedules/cpu_demo.py'
]
gw = dict(type='GW', num_groups=64)
model = dict(
    backbone=dict(
        type='PositionNormResNet',
        norm_cfg=dict(_delete_=True, type='GN', num_groups=32),
        stem_norm_cfg=gw,
        norm2_cfg=gw),
    neck=dict(norm_cfg=gw),
    roi_head=dict(bbox_head=dict(norm_cfg=gw), mask_head=dict(norm_cfg=gw)))
