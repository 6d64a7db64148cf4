# ImageNet-1k ResNeXt-50 32x4d with GN(32) in every position (stem, the three norms of each bottleneck,
# shortcut). No reference top-1: the GW paper has no ImageNet GN row and the authors publish no GN model.
# As the authors' classification/ImageNet/experiments/ResNeXt50_GN_G32.sh (resnext_forGN50_32x4d, GN 32
# groups, no zero-initialised residual) except the learning rate: theirs passes --lr-gamma=0, i.e. lr 0 from
# epoch 30 on (70 epochs that change nothing; GN has no running statistics); here it is divided by 10 at
# epochs 30, 60 and 90 as in their BN and GW scripts and the GN paper, so the BN, GN and GW rows train the
# same schedule. Theirs exactly: --cfg-options param_scheduler.gamma=0.
# Train: tools/dist_train.sh configs/pretrain/resnext50-32x4d_gn_8xb32_in1k.py 8
_base_ = './resnext50-32x4d_bn_8xb32_in1k.py'

model = dict(backbone=dict(norm_cfg=dict(_delete_=True, type='GN', num_groups=32, requires_grad=True)))
