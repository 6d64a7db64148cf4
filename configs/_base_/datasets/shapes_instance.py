# The embedded synthetic instance-segmentation data set of normdet (normdet/datasets/shapes/). Each
# ShapesDataset writes it to data_root on first use, unless the same shapes_cfg was generated there
# already; `python tools/dataset_converters/make_shapes.py` writes one without training, and
# demo/shapes_demo.py trains and evaluates a config on it. The classes come from ShapesDataset.METAINFO.
dataset_type = 'ShapesDataset'
data_root = 'data/shapes/'
image_size = 256
# The arguments of normdet.datasets.generate_shapes_dataset(data_root, **shapes_cfg), handed to every
# dataset below when this file is read: `--cfg-options shapes_cfg.*` changes only this copy, and
# normdet.datasets.apply_shapes_cfg(cfg) hands it on to the datasets (demo/shapes_demo.py does).
shapes_cfg = dict(num_train=400, num_val=100, image_size=image_size, seed=0, difficulty=0.35)
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    # The images already have this size: Resize only records the scale factor the metric needs.
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    # The demo's loop is iteration-based (../schedules/cpu_demo.py): DefaultSampler's epochs (seed + epoch)
    # without the dataloader restart at each epoch end, so runs keep the order and numbers they had with
    # DefaultSampler.
    sampler=dict(type='EpochSeededInfiniteSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        shapes_cfg=shapes_cfg,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=4),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        shapes_cfg=shapes_cfg,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='CocoMetric', ann_file=data_root + 'annotations/instances_val.json', metric=['bbox', 'segm'],
    format_only=False, backend_args=backend_args)
test_evaluator = val_evaluator
