# The pretraining schedule of `make paper-table`: 600 iterations of 32 crops (4.8 passes over the 4000
# crops), AdamW with the CPU demo's settings, warm-up and cosine decay. The ImageNet recipe (SGD lr 0.1,
# 100 epochs; configs/pretrain/) is far beyond a CPU.
_base_ = 'mmpretrain::_base_/default_runtime.py'

max_iters = 600
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(
    constructor='NormAwareOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=50, end=max_iters, T_max=max_iters - 50, eta_min=1e-5)
]
log_processor = dict(by_epoch=False)
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(by_epoch=False, interval=max_iters))
randomness = dict(seed=0)
