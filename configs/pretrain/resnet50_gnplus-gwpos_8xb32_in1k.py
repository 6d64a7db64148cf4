# ImageNet-1k ResNet-50 with GN+ (Gunawan, Yin, Zhang, arXiv 2207.01972) where Group Whitening sits in its
# paper (gwpos: after the stem conv and each bottleneck's 3x3 conv; BN elsewhere). No reference top-1 is
# known to us (the GN+ paper reports CIFAR, SVHN and a small ImageNet).
# GNPlus(32 groups) with running statistics (batch_stats='channel'), as in ../gnplus/; protocol and its
# differences from the GW authors' scripts: ./resnet50_bn_8xb32_in1k.py. Compare with
# ./resnet50_gw-paper_8xb32_in1k.py (77.72) and BN (76.23).
# Its checkpoint can start ../gnplus/*_coco.py in place of torchvision's BN ResNet-50 (see README.md).
# Train: tools/dist_train.sh configs/pretrain/resnet50_gnplus-gwpos_8xb32_in1k.py 8
_base_ = './resnet50_bn_8xb32_in1k.py'

norm_cfg = dict(type='GNPlus', num_groups=32)
model = dict(backbone=dict(stem_norm_cfg=norm_cfg, norm2_cfg=norm_cfg))
