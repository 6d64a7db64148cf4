# CPU demo, IterNorm (64 channels per group, halved to fit) everywhere.
_base_ = [
    '../_base_/models/mask-rcnn_r18-w32_fpn_shapes.py', '../_base_/datasets/shapes_instance.py',
    '../_base_/schedules/cpu_demo.py'
]
demo_name = 'ItN'  # its row in demo/compare_norms.py
norm_cfg = dict(type='ItN', num_channels=64)
model = dict(
    backbone=dict(norm_cfg=dict(_delete_=True, **norm_cfg)),
    neck=dict(norm_cfg=norm_cfg),
    roi_head=dict(bbox_head=dict(norm_cfg=norm_cfg), mask_head=dict(norm_cfg=norm_cfg)))
