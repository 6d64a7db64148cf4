# Smallest Mask R-CNN that exercises the tools (tests/test_tools/, tests/test_engine/): the demo's model and
# data (configs/_base_/) at ResNet-18 1/4 width, GN(8) everywhere, 32-channel FPN and heads with mmdet's
# 2fc box head and a 2-conv mask head, no pretrained weights; mmdet's SGD schedule and runtime, 2
# iterations. Data: 4 train / 2 val shapes images of 128 px in data/shapes_tiny, relative to the working
# directory, which the ShapesDatasets write on first use.
_base_ = [
    '../../../configs/_base_/models/mask-rcnn_r18-w32_fpn_shapes.py',
    '../../../configs/_base_/datasets/shapes_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
]

channels = 32
norm_cfg = dict(type='GN', num_groups=8, requires_grad=True)
model = dict(
    backbone=dict(base_channels=16, norm_cfg=norm_cfg),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=channels, norm_cfg=norm_cfg),
    rpn_head=dict(in_channels=channels, feat_channels=channels),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=channels),
        # mmdet's Mask R-CNN box head (the demo's is Shared4Conv1FCBBoxHead) at these widths.
        bbox_head=dict(
            _delete_=True,
            type='Shared2FCBBoxHead',
            in_channels=channels,
            fc_out_channels=64,
            roi_feat_size=7,
            num_classes=_base_.num_classes,
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.], target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        mask_roi_extractor=dict(out_channels=channels),
        mask_head=dict(num_convs=2, in_channels=channels, conv_out_channels=channels, norm_cfg=norm_cfg)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=200, max_per_img=100),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(
        rpn=dict(nms_pre=200, max_per_img=100),
        rcnn=dict(max_per_img=20)))

data_root = 'data/shapes_tiny/'
image_size = 128
shapes_cfg = dict(num_train=4, num_val=2, image_size=image_size, seed=0, difficulty=0.5)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    sampler=dict(type='InfiniteSampler'),
    dataset=dict(data_root=data_root, shapes_cfg=shapes_cfg, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    dataset=dict(data_root=data_root, shapes_cfg=shapes_cfg, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

max_iters = 2
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
param_scheduler = [dict(type='LinearLR', start_factor=0.5, by_epoch=False, begin=0, end=max_iters)]
optim_wrapper = dict(optimizer=dict(lr=0.01))
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(by_epoch=False, interval=max_iters))
log_processor = dict(by_epoch=False)
