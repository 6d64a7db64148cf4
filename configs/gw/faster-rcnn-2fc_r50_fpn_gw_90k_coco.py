# Group Whitening (Huang et al., CVPR 2021, arXiv 2009.13333), Table 2, row "GW", column "2fc head":
# Faster R-CNN R-50-FPN 1x, box AP 38.13 (COCO minival, maskrcnn-benchmark).
# As the authors' code (maskrcnn_debug/configs/e2e_faster_rcnn_R_50_0selfStep_1FPN_2fc_1x_GW.yaml, run with
# FPN_POST_NMS_TOP_N_TRAIN 2000): GW (64 groups, T=5) after the stem conv and after each bottleneck's 3x3 conv
# (StemWithIGWItN, Bottleneck_3n_WithIGWItN_FT), frozen BN in the other positions (norm1, norm3, shortcut),
# stem and stage 1 frozen; no norm in the FPN; 2fc head; the rest as faster-rcnn-2fc_r50_fpn_bn-frozen_90k_coco.py.
# Pretrained: the authors' ImageNet GW ResNet-50 (77.72 top-1), converted locally:
#   1. download it from the README of github.com/huangleiBuaa/GroupWhitening ("ResNet-50 ... pth",
#      Google Drive file 1bNeTDhfu5jg8aBatOCSQAe_WzTouUfHA);
#   2. python tools/model_converters/gw2normdet.py <downloaded.pth> checkpoints/gw_resnet50_imagenet_converted.pth
# (path relative to where training runs, normally the repo root). Training stops with FileNotFoundError and
# these steps when the file is missing. Input: RGB with torchvision's mean/std, as the authors'. Except:
# - GW's eps: 1e-5 added to each group covariance (mmcv's build_norm_layer passes it), where their GroupItN
#   adds none;
# - the differences all configs of this folder share (README.md, "Where the configs differ from the paper").
_base_ = ['./faster-rcnn-2fc_r50_fpn_bn-frozen_90k_coco.py', './_base_/gw-paper_r50_imagenet-weights.py']
custom_imports = dict(imports=['normdet'], allow_failed_imports=False)

gw_norm_cfg = dict(type='GW', num_groups=64)
# ImageNet weights for this backbone made here instead (8 GPUs):
#   tools/dist_train.sh configs/pretrain/resnet50_gw-paper_8xb32_in1k.py 8
# then train this config from them with
#   --cfg-options model.backbone.init_cfg.prefix=backbone.
#   model.backbone.init_cfg.checkpoint=work_dirs/resnet50_gw-paper_8xb32_in1k/epoch_100.pth
pretrain_config = 'configs/pretrain/resnet50_gw-paper_8xb32_in1k.py'
model = dict(
    backbone=dict(
        type='PositionNormResNet',
        norm_cfg=dict(type='BN', requires_grad=False),
        stem_norm_cfg=gw_norm_cfg,
        norm2_cfg=gw_norm_cfg,
        **_base_.gw_r50_imagenet_weights))
