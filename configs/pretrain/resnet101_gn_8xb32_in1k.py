# ImageNet-1k ResNet-101 with GN(32) in every position. No reference top-1 at this depth is known to us
# (the GW paper has no ImageNet GN row; the GN paper reports ResNet-50 and -101 but we could not confirm its
# ResNet-101 number).
# As ./resnet50_gn_8xb32_in1k.py at depth 101, including its learning-rate schedule (divided by 10 at 30,
# 60 and 90 where the authors' GN scripts pass --lr-gamma=0; theirs: --cfg-options param_scheduler.gamma=0).
# Train: tools/dist_train.sh configs/pretrain/resnet101_gn_8xb32_in1k.py 8
_base_ = './resnet50_gn_8xb32_in1k.py'

model = dict(backbone=dict(depth=101))
