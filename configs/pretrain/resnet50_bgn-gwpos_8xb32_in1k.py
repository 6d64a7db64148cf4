# ImageNet-1k ResNet-50 with Batch Group Normalization (Zhou et al., arXiv 2012.02782) where Group Whitening
# sits in its paper (gwpos: after the stem conv and each bottleneck's 3x3 conv; BN elsewhere). No reference
# top-1 for this placement is known to us (the BGN paper replaces every BN: ./resnet50_bgn_8xb2_in1k.py).
# BGN(32 groups), as in ../bgn/; protocol and its differences from the GW authors' scripts:
# ./resnet50_bn_8xb32_in1k.py. Compare with ./resnet50_gw-paper_8xb32_in1k.py (77.72) and BN (76.23).
# Its checkpoint can start ../bgn/faster-rcnn-*_r50_fpn_bgn_90k_coco.py and
# ../bgn/mask-rcnn_r50_fpn_bgn-gwpos-neck-head_2x_coco.py in place of torchvision's BN ResNet-50 (see README.md).
# Train: tools/dist_train.sh configs/pretrain/resnet50_bgn-gwpos_8xb32_in1k.py 8
_base_ = './resnet50_bn_8xb32_in1k.py'

norm_cfg = dict(type='BGN', num_groups=32)
model = dict(backbone=dict(stem_norm_cfg=norm_cfg, norm2_cfg=norm_cfg))
