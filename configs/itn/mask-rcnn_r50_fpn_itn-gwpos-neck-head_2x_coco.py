# The GN protocol of mmdet's gn/mask-rcnn_r50_fpn_gn-all_2x_coco.py (Wu & He, ECCV 2018; mmdet model zoo:
# 40.2 box / 36.4 mask AP on COCO val2017) with IterNorm (Huang, Zhou, Zhu, Liu, Shao, CVPR 2019, arXiv 1904.03441) in place of GN.
# No published number for this detection setting is known to us.
# Kept from the GN config: Mask R-CNN R-50-FPN, 24 epochs (lr 0.02, batch 16 = 8 GPUs x 2 images, steps
# 16/22), the norm in the FPN, after the 4 convs of the box head (Shared4Conv1FCBBoxHead) and after the 4
# convs of the mask head -- here ItN. As ../gw/mask-rcnn_r50_fpn_gw-paper-neck-head_2x_coco.py but:
# Backbone: ItN at GW's positions of a frozen-BN torchvision ResNet-50, learning its statistics
# (../_base_/models/r50_batch-stats-norm-at-gw-positions.py).
# ItN whitens groups of 64 channels over the batch of each GPU (T=5); its authors call it slow and
# advise few placements: expect a slower backbone.
# Named itn-gwpos-neck-head, not itn-all as mmdet's gn-all: the backbone has the norm at GW's positions only.
_base_ = ['../gw/mask-rcnn_r50_fpn_gw-paper-neck-head_2x_coco.py', '../_base_/models/r50_batch-stats-norm-at-gw-positions.py']
custom_imports = dict(imports=['normdet'], allow_failed_imports=False)
# ImageNet weights for this backbone made here instead (8 GPUs):
#   tools/dist_train.sh configs/pretrain/resnet50_itn-gwpos_8xb32_in1k.py 8
# then train this config from them in place of torchvision's BN ResNet-50 with
#   --cfg-options model.backbone.init_cfg.prefix=backbone.
#   model.backbone.init_cfg.checkpoint=work_dirs/resnet50_itn-gwpos_8xb32_in1k/epoch_100.pth
pretrain_config = 'configs/pretrain/resnet50_itn-gwpos_8xb32_in1k.py'

norm_cfg = dict(type='ItN', num_channels=64)
model = dict(
    backbone=dict(
        stem_norm_cfg=dict(_delete_=True, **norm_cfg),
        norm2_cfg=dict(_delete_=True, **norm_cfg),
        **_base_.batch_stats_at_gw_positions),
    neck=dict(norm_cfg=dict(_delete_=True, **norm_cfg)),
    roi_head=dict(
        bbox_head=dict(norm_cfg=dict(_delete_=True, **norm_cfg)),
        mask_head=dict(norm_cfg=dict(_delete_=True, **norm_cfg))))
