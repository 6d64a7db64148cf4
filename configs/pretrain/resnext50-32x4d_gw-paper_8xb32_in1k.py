# ImageNet-1k ResNeXt-50 32x4d with Group Whitening at the paper's positions (after the stem conv and each
# bottleneck's grouped 3x3 conv; BN elsewhere). Reference top-1: 78.43 (BN: 77.01), the ImageNet results of
# Group Whitening (Huang et al., CVPR 2021, arXiv 2009.13333).
# As the authors' classification/ImageNet/experiments/ResNeXt50_S1-B2_IGWItN_G64.sh (resnext_whiten_010n50_32x4d,
# T=5, 64 groups); protocol and differences: ./resnet50_bn_8xb32_in1k.py, ./resnet50_gw-paper_8xb32_in1k.py.
# Train: tools/dist_train.sh configs/pretrain/resnext50-32x4d_gw-paper_8xb32_in1k.py 8
_base_ = './resnext50-32x4d_bn_8xb32_in1k.py'

gw_norm_cfg = dict(type='GW', num_groups=64, T=5)
model = dict(backbone=dict(stem_norm_cfg=gw_norm_cfg, norm2_cfg=gw_norm_cfg))
