# maskrcnn-benchmark's COCO "1x" schedule for 8 GPUs x 2 images, as in Group Whitening (Huang et al., CVPR 2021)
# Table 2 and the authors' configs (github.com/huangleiBuaa/GroupWhitening, maskrcnn_debug/configs):
# SGD lr 0.02, momentum 0.9, weight decay 1e-4; 90k iterations, lr x0.1 at 60k and 80k; linear warm-up over
# 500 iterations from 1/3 of the lr (maskrcnn-benchmark's WARMUP_FACTOR, where mmdet uses 0.001); 2x lr and no
# weight decay (BIAS_LR_FACTOR 2, WEIGHT_DECAY_BIAS 0) for every parameter whose name contains "bias"
# (solver/build.py), the norms' β included, and base lr and weight decay for everything else, the norms' γ
# included.
# Batch 16 = 8 GPUs x 2 images (the datasets' batch_size=2): with another GPU count, scale the lr
# (tools/train.py --auto-scale-lr) and the iterations. Evaluation only at the end, as in the paper.
_base_ = 'mmdet::_base_/default_runtime.py'

custom_imports = dict(imports=['normdet'], allow_failed_imports=False)

max_iters = 90000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='LinearLR', start_factor=1.0 / 3, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=max_iters, by_epoch=False, milestones=[60000, 80000], gamma=0.1)
]

optim_wrapper = dict(
    type='OptimWrapper',
    # treats normdet's layers as norms, like GN, should a norm_decay_mult be added
    constructor='NormAwareOptimWrapperConstructor',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001),
    # A custom key matches the parameter's full name, as their "bias" in key does, and then skips
    # bias_lr_mult (which leaves norm biases at 1x) and norm_decay_mult; unset, norms decay as the rest.
    paramwise_cfg=dict(custom_keys={'bias': dict(lr_mult=2.0, decay_mult=0.0)}))
auto_scale_lr = dict(enable=False, base_batch_size=16)

default_hooks = dict(checkpoint=dict(by_epoch=False, interval=10000))
log_processor = dict(by_epoch=False)
