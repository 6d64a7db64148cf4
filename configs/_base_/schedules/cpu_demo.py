# The CPU demo schedule: from scratch, AdamW with a short warm-up and a cosine decay (SGD at lr 0.02
# trailed AdamW by about 11 box AP in an earlier 2-core measurement of this model).
_base_ = 'mmdet::_base_/default_runtime.py'

max_iters = 400
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    constructor='NormAwareOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=max_iters, T_max=max_iters - 100,
         eta_min=1e-5)
]
auto_scale_lr = dict(enable=False, base_batch_size=2)
log_processor = dict(by_epoch=False)
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(by_epoch=False, interval=max_iters))
# One seed for model initialisation and data order, so that `make compare` trains every norm alike.
randomness = dict(seed=0)
