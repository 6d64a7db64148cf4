# Single-object crops of the shapes scenes (normdet/datasets/shapes_crops.py), the stand-in for ImageNet of
# `make paper-table`: 64 x 64 crops of the demo's scenes (difficulty 0.35), from random streams the
# detection set never uses. ShapesCropsDataset writes them to data/shapes_crops/ on first use.
dataset_type = 'ShapesCropsDataset'
data_root = 'data/shapes_crops/'
shapes_crops_cfg = dict(num_train=4000, num_val=600, crop_size=64, scene_size=256, seed=0, difficulty=0.35)
# RGB with ImageNet's mean/std, as the detectors' data preprocessor normalises their input.
data_preprocessor = dict(
    num_classes=6, mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', shapes_crops_cfg=shapes_crops_cfg,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='val', shapes_crops_cfg=shapes_crops_cfg,
                 test_mode=True, pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
