# ImageNet-1k ResNet-50 with GN(32) in every position (stem, the three norms of each bottleneck, shortcut).
# Reference top-1: 75.9 (24.1 % error), Group Normalization (Wu & He, ECCV 2018), ResNet-50 GN at 32
# images per GPU, 100 epochs, lr divided by 10 at 30, 60 and 90. The GW paper gives no ImageNet GN number;
# its GN detection rows start from the authors' own (unpublished) ImageNet GN ResNet-50, for which their
# repository has no script: this config follows their GN ResNeXt scripts (GN everywhere, shortcut included,
# no zero-initialised residual) with the protocol of ./resnet50_bn_8xb32_in1k.py.
# Learning rate: the authors' GN scripts pass --lr-gamma=0, which sets the lr to 0 from epoch 30 on (the
# last 70 epochs change nothing; GN has no running statistics). Here the lr is divided by 10 at epochs 30,
# 60 and 90, as in their BN and GW scripts and in the GN paper, so every row of the table trains the same
# schedule. Their schedule exactly: --cfg-options param_scheduler.gamma=0.
# Its checkpoint is the backbone of ../gw/faster-rcnn-*_r50_fpn_gn_90k_coco.py with
# model.backbone.type=PositionNormResNet (see README.md).
# Train: tools/dist_train.sh configs/pretrain/resnet50_gn_8xb32_in1k.py 8
_base_ = './resnet50_bn_8xb32_in1k.py'

model = dict(backbone=dict(norm_cfg=dict(_delete_=True, type='GN', num_groups=32, requires_grad=True)))
