# ImageNet-1k ResNet-101 with BN everywhere. Reference top-1: 77.69, the BN baseline of the ImageNet results
# of Group Whitening (Huang et al., CVPR 2021, arXiv 2009.13333; GW: 78.71). mmpretrain's own
# resnet101_8xb32_in1k: 77.97.
# Protocol and its differences from the authors' scripts: ./resnet50_bn_8xb32_in1k.py.
# Train: tools/dist_train.sh configs/pretrain/resnet101_bn_8xb32_in1k.py 8
_base_ = './resnet50_bn_8xb32_in1k.py'

model = dict(backbone=dict(depth=101))
