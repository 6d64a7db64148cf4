# CPU demo, BGN(32 groups) everywhere. A 32-channel layer has G = C there, i.e. BatchNorm.
_base_ = [
    '../_base_/models/mask-rcnn_r18-w32_fpn_shapes.py', '../_base_/datasets/shapes_instance.py',
    '../_base_/schedules/cpu_demo.py'
]
demo_name = 'BGN'  # its row in demo/compare_norms.py
norm_cfg = dict(type='BGN', num_groups=32)
model = dict(
    backbone=dict(norm_cfg=dict(_delete_=True, **norm_cfg)),
    neck=dict(norm_cfg=norm_cfg),
    roi_head=dict(bbox_head=dict(norm_cfg=norm_cfg), mask_head=dict(norm_cfg=norm_cfg)))
