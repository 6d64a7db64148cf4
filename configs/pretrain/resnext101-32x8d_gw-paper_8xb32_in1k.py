# ImageNet-1k ResNeXt-101 32x8d with Group Whitening at the paper's positions (after the stem conv and each
# bottleneck's grouped 3x3 conv; BN elsewhere). Reference top-1: 80.43 (BN: 79.29), the ImageNet results of
# Group Whitening (Huang et al., CVPR 2021, arXiv 2009.13333).
# As the authors' classification/ImageNet/experiments/ResNeXt101_S1-B2_IGWItN_G64.sh
# (resnext_whiten_010n101_32x8d, T=5, 64 groups); protocol and differences: ./resnet50_bn_8xb32_in1k.py,
# ./resnext101-32x8d_bn_8xb32_in1k.py, ./resnet50_gw-paper_8xb32_in1k.py.
# Its checkpoint is the backbone of ../gw/mask-rcnn-4conv1fc_x101-32x8d_fpn_gw_180k_coco.py (see README.md).
# Train: tools/dist_train.sh configs/pretrain/resnext101-32x8d_gw-paper_8xb32_in1k.py 8
_base_ = './resnext101-32x8d_bn_8xb32_in1k.py'

gw_norm_cfg = dict(type='GW', num_groups=64, T=5)
model = dict(backbone=dict(stem_norm_cfg=gw_norm_cfg, norm2_cfg=gw_norm_cfg))
