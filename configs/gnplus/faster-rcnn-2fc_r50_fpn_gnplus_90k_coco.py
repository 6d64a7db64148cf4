# GNPlus in the Faster R-CNN "2fc head" setting of Group Whitening (Huang et al., CVPR 2021) Table 2, with
# improved Group Normalization GN+ (Gunawan, Yin, Zhang, arXiv 2207.01972) in place of GW. Compare with the Table 2 rows (2fc head, box AP on COCO minival):
# BN-frozen 36.31, GN 36.32, GW 38.13. The GN+ paper reports classification only (CIFAR, SVHN, small ImageNet), no detection number.
# Protocol as ../gw/faster-rcnn-2fc_r50_fpn_gw_90k_coco.py: maskrcnn-benchmark 1x (8 GPUs x 2 images,
# lr 0.02, 90k iterations, steps 60k/80k, warm-up 500 at 1/3), no norm in the FPN, 2fc head.
# Backbone: GNPlus where GW sits in the GW paper (after the stem conv and each bottleneck's 3x3 conv), frozen BN
# elsewhere, from torchvision's ImageNet ResNet-50 (torchvision://resnet50, needs the torchvision package):
# there is no ImageNet ResNet-50 trained with GNPlus. The GNPlus layers take BN's affine weight/bias at their positions
# (and its running statistics where the shapes agree) and learn their own statistics in detection training, so
# they stay out of norm_eval (norm_eval_positions)
# and no stage is frozen (frozen_stages=-1; the frozen-BN positions stay frozen by requires_grad=False).
# GNPlus uses its running-statistics variant (batch_stats='channel'), so evaluation works at one
# image per GPU.
_base_ = '../gw/faster-rcnn-2fc_r50_fpn_gw_90k_coco.py'
custom_imports = dict(imports=['normdet'], allow_failed_imports=False)

norm_cfg = dict(type='GNPlus', num_groups=32)
model = dict(
    backbone=dict(
        stem_norm_cfg=dict(_delete_=True, **norm_cfg),
        norm2_cfg=dict(_delete_=True, **norm_cfg),
        frozen_stages=-1,
        norm_eval_positions=('norm1', 'norm3', 'downsample'),
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50'),
        checkpoint_hint=None))
