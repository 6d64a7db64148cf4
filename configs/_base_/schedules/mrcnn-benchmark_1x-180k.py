# maskrcnn-benchmark's COCO "1x" schedule for 8 GPUs x 1 image, as in Group Whitening (Huang et al., CVPR 2021)
# Table 3 (Mask R-CNN ResNeXt-101 32x8d): SGD lr 0.01, 180k iterations, lr x0.1 at 120k and 160k; the rest as
# mrcnn-benchmark_1x-90k.py (warm-up 500 iterations from 1/3, biases 2x lr and no weight decay).
# The configs using it set train_dataloader batch_size=1 (8 GPUs x 1 image = batch 8), as
# ../../gw/_base_/mask-rcnn_r50_fpn_mrcnn-benchmark_180k_coco.py does.
_base_ = './mrcnn-benchmark_1x-90k.py'

max_iters = 180000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0 / 3, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=max_iters, by_epoch=False, milestones=[120000, 160000], gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.01))
auto_scale_lr = dict(enable=False, base_batch_size=8)
