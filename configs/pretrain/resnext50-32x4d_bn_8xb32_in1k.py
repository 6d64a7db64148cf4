# ImageNet-1k ResNeXt-50 32x4d with BN everywhere. Reference top-1: 77.01, the BN baseline of the ImageNet
# results of Group Whitening (Huang et al., CVPR 2021, arXiv 2009.13333; GW: 78.43). mmpretrain's own
# resnext50-32x4d_8xb32_in1k: 77.90.
# Protocol and its differences from the authors' scripts: ./resnet50_bn_8xb32_in1k.py (the authors'
# ResNeXt-50 scripts also run one DataParallel process over 2 GPUs). mmpretrain's ResNeXt configs read the
# images with PIL; this one keeps cv2, as every config of this folder.
# Backbone: normdet's PositionNormResNeXt (mmdet's ResNeXt: groups, base_width) with torchvision's layer
# names (at depth 101 and width 8, ./resnext101-32x8d_*, the backbone of ../gw/mask-rcnn-4conv1fc_x101-32x8d_*).
# Train: tools/dist_train.sh configs/pretrain/resnext50-32x4d_bn_8xb32_in1k.py 8
_base_ = './resnet50_bn_8xb32_in1k.py'

model = dict(backbone=dict(type='PositionNormResNeXt', groups=32, base_width=4))
