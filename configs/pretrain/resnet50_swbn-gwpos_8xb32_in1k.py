# ImageNet-1k ResNet-50 with Stochastic Whitening BN (Zhang et al., CVPR 2021, arXiv 2106.04413) where Group
# Whitening sits in its paper (gwpos: after the stem conv and each bottleneck's 3x3 conv; BN elsewhere).
# No reference top-1 for this configuration is known to us.
# SWBN with 64 channels per group, as in ../swbn/ (a checkpoint's whitening matrices are sized by the group),
# momentum 0.05 and whitening rate 1e-5, a third party's reading of the paper. The paper keeps the whitening
# rate at a fixed ratio to the network's lr; normdet's SWBN keeps it constant while the lr steps down.
# Protocol and its differences from the GW authors' scripts: ./resnet50_bn_8xb32_in1k.py.
# Its checkpoint can start ../swbn/*_coco.py in place of torchvision's BN ResNet-50 (see README.md).
# Train: tools/dist_train.sh configs/pretrain/resnet50_swbn-gwpos_8xb32_in1k.py 8
_base_ = './resnet50_bn_8xb32_in1k.py'

norm_cfg = dict(type='SWBN', num_channels=64)
model = dict(backbone=dict(stem_norm_cfg=norm_cfg, norm2_cfg=norm_cfg))
