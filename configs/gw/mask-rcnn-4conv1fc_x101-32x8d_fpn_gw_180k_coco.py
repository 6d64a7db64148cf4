# Group Whitening (Huang et al., CVPR 2021, arXiv 2009.13333), Table 3, row "GW":
# Mask R-CNN ResNeXt-101 32x8d-FPN 1x, box AP 44.41 / mask AP 39.17 (COCO minival, maskrcnn-benchmark).
# As the authors' code (maskrcnn_debug/configs/e2e_mask_rcnn_X_101_32x8d_FPN_2Xconv_1Image_1x_GW.yaml, run
# with FPN_POST_NMS_TOP_N_TRAIN 1000): GW(64) after the stem conv and each bottleneck's grouped 3x3 conv,
# frozen BN elsewhere, stem and stage 1 frozen; GW(64) in the FPN (FPN.USE_GN 'IGWItN'), after the 4 convs of
# the box head (XConvFCBBoxHead, convs without bias, one ReLU after the last) and after the 4 convs of the
# mask head (each with its ReLU); RGB input with torchvision's mean/std; the rest as
# mask-rcnn-4conv1fc_x101-32x8d_fpn_bn-frozen_180k_coco.py.
# Pretrained: the authors' ImageNet GW ResNeXt-101 32x8d (80.43 top-1), converted locally:
#   1. download it from the README of github.com/huangleiBuaa/GroupWhitening ("ResNeXt-101 ... pth",
#      Google Drive file 1lVAvTSCnHs-Ij5gt7ubQvLmZzUQdKUNt);
#   2. python tools/model_converters/gw2normdet.py <downloaded.pth>
#      checkpoints/gw_resnext101_32x8d_imagenet_converted.pth
# Training stops with FileNotFoundError and these steps when the file is missing. Except:
# - GW's eps: 1e-5 added to each group covariance (mmcv's build_norm_layer passes it), where their GroupItN
#   adds none;
# - the differences all configs of this folder share (README.md, "Where the configs differ from the paper").
_base_ = './mask-rcnn-4conv1fc_x101-32x8d_fpn_bn-frozen_180k_coco.py'
custom_imports = dict(imports=['normdet'], allow_failed_imports=False)

gw_norm_cfg = dict(type='GW', num_groups=64)
# ImageNet weights for this backbone made here instead (8 GPUs):
#   tools/dist_train.sh configs/pretrain/resnext101-32x8d_gw-paper_8xb32_in1k.py 8
# then train this config from them with
#   --cfg-options model.backbone.init_cfg.prefix=backbone.
#   model.backbone.init_cfg.checkpoint=work_dirs/resnext101-32x8d_gw-paper_8xb32_in1k/epoch_100.pth
pretrain_config = 'configs/pretrain/resnext101-32x8d_gw-paper_8xb32_in1k.py'
model = dict(
    backbone=dict(
        type='PositionNormResNeXt',
        norm_cfg=dict(type='BN', requires_grad=False),
        stem_norm_cfg=gw_norm_cfg,
        norm2_cfg=gw_norm_cfg,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/gw_resnext101_32x8d_imagenet_converted.pth'),
        checkpoint_hint=(
            "Download the GW authors' ImageNet GW ResNeXt-101 32x8d (README of "
            'github.com/huangleiBuaa/GroupWhitening, Google Drive file 1lVAvTSCnHs-Ij5gt7ubQvLmZzUQdKUNt) and '
            'run: python tools/model_converters/gw2normdet.py <downloaded.pth> '
            'checkpoints/gw_resnext101_32x8d_imagenet_converted.pth. '
            'Or pretrain it: tools/dist_train.sh configs/pretrain/resnext101-32x8d_gw-paper_8xb32_in1k.py 8 '
            '(one process: python tools/train.py configs/pretrain/resnext101-32x8d_gw-paper_8xb32_in1k.py), '
            'then train with --cfg-options '
            'model.backbone.init_cfg.prefix=backbone. '
            'model.backbone.init_cfg.checkpoint=work_dirs/resnext101-32x8d_gw-paper_8xb32_in1k/epoch_100.pth')),
    neck=dict(norm_cfg=gw_norm_cfg),
    roi_head=dict(bbox_head=dict(norm_cfg=gw_norm_cfg), mask_head=dict(norm_cfg=gw_norm_cfg)))
