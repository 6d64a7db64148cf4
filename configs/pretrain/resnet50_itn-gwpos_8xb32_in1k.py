# ImageNet-1k ResNet-50 with IterNorm (Huang et al., CVPR 2019, arXiv 1904.03441) where Group Whitening sits
# in its paper (gwpos: after the stem conv and each bottleneck's 3x3 conv; BN elsewhere). No reference top-1
# for this configuration is known to us.
# ItN with 64 channels per group and T=5, as in ../itn/ (a checkpoint's whitening buffers are sized by the
# group, so pretraining and detection must agree). The GW authors' own ItN recipe
# (classification/ImageNet/experiments/ResNet_ItNSigma_DF_S1-B2_NC256.sh) whitens the same positions with
# 256 channels per group (ItNSigma) and adds an ItN on the pooled 2048 features before the fc (DF), which
# is outside the backbone. Protocol and its differences from their scripts: ./resnet50_bn_8xb32_in1k.py.
# Its checkpoint can start ../itn/*_coco.py in place of torchvision's BN ResNet-50 (see README.md).
# Train: tools/dist_train.sh configs/pretrain/resnet50_itn-gwpos_8xb32_in1k.py 8
_base_ = './resnet50_bn_8xb32_in1k.py'

norm_cfg = dict(type='ItN', num_channels=64, T=5)
model = dict(backbone=dict(stem_norm_cfg=norm_cfg, norm2_cfg=norm_cfg))
