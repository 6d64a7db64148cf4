# ImageNet-1k ResNeXt-101 32x8d with BN everywhere. Reference top-1: 79.29, the BN baseline of the ImageNet
# results of Group Whitening (Huang et al., CVPR 2021, arXiv 2009.13333; GW: 80.43). mmpretrain's own
# resnext101-32x8d_8xb32_in1k: 79.27.
# Protocol and its differences from the authors' scripts: ./resnet50_bn_8xb32_in1k.py (the authors'
# ResNeXt-101 scripts run one DataParallel process over 4 GPUs: BN sees 64 images per GPU, here 32).
# Its checkpoint is the backbone of ../gw/mask-rcnn-4conv1fc_x101-32x8d_fpn_bn-frozen_180k_coco.py in place of
# torchvision's (see README.md).
# Train: tools/dist_train.sh configs/pretrain/resnext101-32x8d_bn_8xb32_in1k.py 8
_base_ = './resnext50-32x4d_bn_8xb32_in1k.py'

model = dict(backbone=dict(depth=101, base_width=8))
