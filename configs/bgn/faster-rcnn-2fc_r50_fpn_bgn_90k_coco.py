# BGN in the Faster R-CNN "2fc head" setting of Group Whitening (Huang et al., CVPR 2021) Table 2, with
# Batch Group Normalization (Zhou et al., arXiv 2012.02782) in place of GW. Compare with the Table 2 rows (2fc head, box AP on COCO minival):
# BN-frozen 36.31, GN 36.32, GW 38.13. The BGN paper reports ImageNet classification (ResNet-50 at batch 2: BN 66.512, BGN 76.096 top-1), no number for this detection setting.
# Protocol as ../gw/faster-rcnn-2fc_r50_fpn_gw_90k_coco.py: maskrcnn-benchmark 1x (8 GPUs x 2 images,
# lr 0.02, 90k iterations, steps 60k/80k, warm-up 500 at 1/3), no norm in the FPN, 2fc head.
# Backbone: BGN at GW's positions of a frozen-BN torchvision ResNet-50, learning its statistics
# (../_base_/models/r50_batch-stats-norm-at-gw-positions.py).
# BGN takes its statistics over the batch of each GPU (2 images here); SyncBGN (same arguments) takes
# them over all GPUs.
_base_ = ['../gw/faster-rcnn-2fc_r50_fpn_gw_90k_coco.py', '../_base_/models/r50_batch-stats-norm-at-gw-positions.py']
custom_imports = dict(imports=['normdet'], allow_failed_imports=False)
# ImageNet weights for this backbone made here instead (8 GPUs):
#   tools/dist_train.sh configs/pretrain/resnet50_bgn-gwpos_8xb32_in1k.py 8
# then train this config from them in place of torchvision's BN ResNet-50 with
#   --cfg-options model.backbone.init_cfg.prefix=backbone.
#   model.backbone.init_cfg.checkpoint=work_dirs/resnet50_bgn-gwpos_8xb32_in1k/epoch_100.pth
pretrain_config = 'configs/pretrain/resnet50_bgn-gwpos_8xb32_in1k.py'

norm_cfg = dict(type='BGN', num_groups=32)
model = dict(
    backbone=dict(
        stem_norm_cfg=dict(_delete_=True, **norm_cfg),
        norm2_cfg=dict(_delete_=True, **norm_cfg),
        **_base_.batch_stats_at_gw_positions))
