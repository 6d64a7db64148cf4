# ImageNet-1k ResNet-50 with Batch Group Normalization in every position, 2 images per GPU. Reference top-1:
# 76.096 (BN: 66.512), Batch Group Normalization (Zhou et al., arXiv 2012.02782), ResNet-50 "with a batch
# size of 2".
# BGN replaces every BN (stem, the three norms of each bottleneck, shortcut). The paper tunes its group
# count G, whose value for this run we could not read: 32 groups here, as in ../bgn/ (G = C would be BN).
# Schedule and learning rate as ./resnet50_bn_8xb2_in1k.py (8 GPUs x 2 images, lr 0.00625; our choice, the
# GN paper's small-batch protocol).
# Train: tools/dist_train.sh configs/pretrain/resnet50_bgn_8xb2_in1k.py 8
_base_ = './resnet50_bn_8xb2_in1k.py'

model = dict(backbone=dict(norm_cfg=dict(_delete_=True, type='BGN', num_groups=32)))
