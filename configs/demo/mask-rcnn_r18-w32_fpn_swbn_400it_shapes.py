# CPU demo, SWBN (64 channels per group) everywhere. The whitening rate is raised from the layer's default 1e-5
# (reported for ImageNet-length training) to 1e-3: this schedule is 400 iterations long. WhiteningMonitorHook
# logs how white each layer keeps its output (whitening_stats.json in the work dir).
_base_ = [
    '../_base_/models/mask-rcnn_r18-w32_fpn_shapes.py', '../_base_/datasets/shapes_instance.py',
    '../_base_/schedules/cpu_demo.py'
]
demo_name = 'SWBN'  # its row in demo/compare_norms.py
norm_cfg = dict(type='SWBN', num_channels=64, whitening_lr=1e-3)
model = dict(
    backbone=dict(norm_cfg=dict(_delete_=True, **norm_cfg)),
    neck=dict(norm_cfg=norm_cfg),
    roi_head=dict(bbox_head=dict(norm_cfg=norm_cfg), mask_head=dict(norm_cfg=norm_cfg)))
custom_hooks = [dict(type='WhiteningMonitorHook', interval=50)]
