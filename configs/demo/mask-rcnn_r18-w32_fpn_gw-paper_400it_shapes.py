# CPU demo (`make demo`): Mask R-CNN with Group Whitening in the GW paper's backbone placement, from scratch.
# Backbone: GW(64 groups; clipped to C where C < 64) after the stem conv and after each block's second 3x3
# conv, as the paper's resnet_whiten_010n. The paper keeps frozen ImageNet BN at the other positions; from
# scratch there are no statistics to freeze, so they hold GN(32), the standard from-scratch norm, as do the
# FPN and both heads. (GW after the head convs, as in the paper's Mask R-CNN, whitens every RoI: on 2 CPU
# cores it more than doubles the iteration time, past the demo's 10-minute budget.)
_base_ = [
    '../_base_/models/mask-rcnn_r18-w32_fpn_shapes.py', '../_base_/datasets/shapes_instance.py',
    '../_base_/schedules/cpu_demo.py'
]
demo_name = 'GW (paper placement)'  # its row in demo/compare_norms.py
gw = dict(type='GW', num_groups=64)
gn = dict(type='GN', num_groups=32)
model = dict(
    backbone=dict(type='PositionNormResNet', norm_cfg=dict(_delete_=True, **gn), stem_norm_cfg=gw, norm2_cfg=gw),
    neck=dict(norm_cfg=gn),
    roi_head=dict(bbox_head=dict(norm_cfg=gn), mask_head=dict(norm_cfg=gn)))
