# ImageNet-1k ResNet-50 with Group Whitening at the paper's positions. Reference top-1: 77.72 (BN: 76.23),
# the ImageNet results of Group Whitening (Huang et al., CVPR 2021, arXiv 2009.13333).
# As the authors' classification/ImageNet/experiments/ResNet_IGWItN_S1-B2_G64.sh (model resnet_whiten_010n50,
# --norm=IGWItN, T=5, 64 groups): GW after the stem conv and after each bottleneck's 3x3 conv, BN after
# conv1, conv3 and in the shortcut; protocol and its differences from the authors' in
# ./resnet50_bn_8xb32_in1k.py. Also different: normdet's GW adds eps=1e-5 (mmcv's default) to each group's
# covariance, the authors' GroupItN none.
# Its checkpoint is the backbone of ../gw/faster-rcnn-*_r50_fpn_gw_90k_coco.py and
# ../gw/mask-rcnn_r50_fpn_gw-paper-neck-head_2x_coco.py (see README.md for the init_cfg).
# Train: tools/dist_train.sh configs/pretrain/resnet50_gw-paper_8xb32_in1k.py 8
_base_ = './resnet50_bn_8xb32_in1k.py'

gw_norm_cfg = dict(type='GW', num_groups=64, T=5)
model = dict(backbone=dict(stem_norm_cfg=gw_norm_cfg, norm2_cfg=gw_norm_cfg))
