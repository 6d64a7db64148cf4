# ImageNet-1k ResNeXt-101 32x8d with GN(32) in every position (stem, the three norms of each bottleneck,
# shortcut). No reference top-1: the GW paper has no ImageNet GN row and no one publishes this model.
# As the authors' classification/ImageNet/experiments/ResNeXt101_GN_G32.sh (resnext_forGN101_32x8d), whose
# model started their Mask R-CNN GN row (42.18 / 37.54), except the learning rate: theirs passes
# --lr-gamma=0, i.e. lr 0 from epoch 30 on (70 epochs that change nothing; GN has no running statistics);
# here it is divided by 10 at epochs 30, 60 and 90 as in their BN and GW scripts and the GN paper, so the
# BN, GN and GW rows train the same schedule. Theirs exactly: --cfg-options param_scheduler.gamma=0.
# Its checkpoint is the backbone of ../gw/mask-rcnn-4conv1fc_x101-32x8d_fpn_gn_180k_coco.py (see README.md).
# Train: tools/dist_train.sh configs/pretrain/resnext101-32x8d_gn_8xb32_in1k.py 8
_base_ = './resnext101-32x8d_bn_8xb32_in1k.py'

model = dict(backbone=dict(norm_cfg=dict(_delete_=True, type='GN', num_groups=32, requires_grad=True)))
