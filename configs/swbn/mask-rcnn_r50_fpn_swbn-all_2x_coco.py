# The GN protocol of mmdet's gn/mask-rcnn_r50_fpn_gn-all_2x_coco.py (Wu & He, ECCV 2018; mmdet model zoo:
# 40.2 box / 36.4 mask AP on COCO val2017) with Stochastic Whitening BN (Zhang et al., CVPR 2021, arXiv 2106.04413) in place of GN.
# No published number for this detection setting is known to us.
# Kept from the GN config: Mask R-CNN R-50-FPN, 24 epochs (lr 0.02, batch 16 = 8 GPUs x 2 images, steps
# 16/22), the norm in the FPN, after the 4 convs of the box head (Shared4Conv1FCBBoxHead) and after the 4
# convs of the mask head -- here SWBN. As ../gw/mask-rcnn_r50_fpn_gw-all_2x_coco.py but:
# Backbone: SWBN where GW sits in the GW paper (after the stem conv and each bottleneck's 3x3 conv), frozen BN
# elsewhere, from torchvision's ImageNet ResNet-50 (torchvision://resnet50, needs the torchvision package):
# there is no ImageNet ResNet-50 trained with SWBN. The SWBN layers take BN's affine weight/bias at their positions
# (and its running statistics where the shapes agree) and learn their own statistics in detection training, so
# they stay out of norm_eval (norm_eval_positions)
# and no stage is frozen (frozen_stages=-1; the frozen-BN positions stay frozen by requires_grad=False).
# SWBN has no official code; its defaults (momentum 0.05, whitening_lr 1e-5) are a third party's
# reading of the paper.
_base_ = '../gw/mask-rcnn_r50_fpn_gw-all_2x_coco.py'
custom_imports = dict(imports=['normdet'], allow_failed_imports=False)

norm_cfg = dict(type='SWBN', num_channels=64)
model = dict(
    backbone=dict(
        stem_norm_cfg=dict(_delete_=True, **norm_cfg),
        norm2_cfg=dict(_delete_=True, **norm_cfg),
        frozen_stages=-1,
        norm_eval_positions=('norm1', 'norm3', 'downsample'),
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50'),
        checkpoint_hint=None),
    neck=dict(norm_cfg=dict(_delete_=True, **norm_cfg)),
    roi_head=dict(
        bbox_head=dict(norm_cfg=dict(_delete_=True, **norm_cfg)),
        mask_head=dict(norm_cfg=dict(_delete_=True, **norm_cfg))))
