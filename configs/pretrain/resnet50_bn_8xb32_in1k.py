# ImageNet-1k ResNet-50 with BN everywhere. Reference top-1: 76.23, the BN baseline of the ImageNet results
# of Group Whitening (Huang et al., CVPR 2021, arXiv 2009.13333; GW: 77.72). mmpretrain's own
# resnet50_8xb32_in1k (zero-initialised residual branches) reaches 76.55.
# The protocol of every config in this folder, from the authors' scripts
# (github.com/huangleiBuaa/GroupWhitening, classification/ImageNet/experiments/ResNet_IGWItN_S1-B2_G64.sh
# and its siblings): 256 images per step, 100 epochs, SGD momentum 0.9, lr 0.1 divided by 10 every 30
# epochs (torch StepLR(30, 0.1): epochs 30, 60, 90), weight decay 1e-4 on every parameter, no dropout,
# RandomResizedCrop 224 + flip for training, resize 256 + centre crop 224 for evaluation, seed 1 -- which
# are mmpretrain's resnet50_8xb32_in1k settings, inherited below.
# Different from the authors' scripts (see README.md): 8 processes x 32 images, so BN sees 32 images per
# GPU (theirs: one DataParallel process over 2 GPUs, 128 per GPU); mmpretrain's cv2 bilinear resize
# (theirs: DALI, triangular); mmpretrain's fc init normal(std 0.01) (theirs: torch's default); residual
# branches not zero-initialised (as theirs; mmpretrain's ResNet does zero-initialise them).
# The backbone is normdet's PositionNormResNet (mmdet's ResNet with torchvision's layer names at every norm
# type), so the checkpoint loads into the detectors of configs/ with
# init_cfg=dict(type='Pretrained', prefix='backbone.', checkpoint=...). mmdet's ResNet defaults to
# norm_eval=True (frozen BN statistics, for detection): ImageNet training sets it False.
# Train: tools/dist_train.sh configs/pretrain/resnet50_bn_8xb32_in1k.py 8 (data in data/imagenet).
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['normdet'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='PositionNormResNet',
        depth=50,
        num_stages=4,
        out_indices=(3, ),
        style='pytorch',
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,  # mmdet's ResNet default (True) would keep BN at its initial statistics
        zero_init_residual=False))

# The authors keep the best epoch's model (best.pth): save it beside the last few.
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3, save_best='auto'))
randomness = dict(seed=1, deterministic=False)
# tools/train.py --auto-scale-lr (another GPU count or batch size) sets enable=True: lr 0.1 per 256 images.
auto_scale_lr = dict(enable=False, base_batch_size=256)
