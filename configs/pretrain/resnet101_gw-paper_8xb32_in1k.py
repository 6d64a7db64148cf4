# ImageNet-1k ResNet-101 with Group Whitening at the paper's positions (after the stem conv and each
# bottleneck's 3x3 conv; BN elsewhere). Reference top-1: 78.71 (BN: 77.69), the ImageNet results
# of Group Whitening (Huang et al., CVPR 2021, arXiv 2009.13333).
# As ./resnet50_gw-paper_8xb32_in1k.py at depth 101 (the authors' resnet_whiten_010n101).
# Train: tools/dist_train.sh configs/pretrain/resnet101_gw-paper_8xb32_in1k.py 8
_base_ = './resnet50_gw-paper_8xb32_in1k.py'

model = dict(backbone=dict(depth=101))
