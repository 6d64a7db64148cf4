# Group Whitening (Huang et al., CVPR 2021, arXiv 2009.13333), Table 3, row "GN":
# Mask R-CNN ResNeXt-101 32x8d-FPN 1x, box AP 42.18 / mask AP 37.54 (COCO minival, maskrcnn-benchmark).
# As the authors' code (maskrcnn_debug/configs/e2e_mask_rcnn_X_101_32x8d_FPN_2Xconv_1Image_1x_GN.yaml, run
# with FPN_POST_NMS_TOP_N_TRAIN 1000): GN(32) in every backbone position (StemWithGN/BottleneckWithGN),
# trained, stem and stage 1 frozen; GN(32) in the FPN, after the 4 convs of the box head (XConvFCBBoxHead,
# convs without bias, one ReLU after the last) and after the 4 convs of the mask head (each with its ReLU);
# RGB input with torchvision's mean/std; the rest as mask-rcnn-4conv1fc_x101-32x8d_fpn_bn-frozen_180k_coco.py.
# Pretrained: an ImageNet GN ResNeXt-101 32x8d, which no one publishes: the authors trained their own
# (classification/ImageNet/experiments/ResNeXt101_GN_G32.sh in their repository). Train one and save its
# torchvision-style state dict (keys conv1, bn1, layer1.0.conv1, layer1.0.bn1, ...; a 'state_dict' wrapper
# and 'module.' prefixes are fine) as checkpoints/gn_resnext101_32x8d_imagenet.pth; training stops with
# FileNotFoundError and this recipe while the file is missing. Except:
# - weights: yours, not theirs (above);
# - the differences all configs of this folder share (README.md, "Where the configs differ from the paper"),
#   frozen BN's eps aside (no BN here).
_base_ = './mask-rcnn-4conv1fc_x101-32x8d_fpn_bn-frozen_180k_coco.py'
custom_imports = dict(imports=['normdet'], allow_failed_imports=False)

norm_cfg = dict(type='GN', num_groups=32, requires_grad=True)
# ImageNet weights for this backbone made here instead (8 GPUs):
#   tools/dist_train.sh configs/pretrain/resnext101-32x8d_gn_8xb32_in1k.py 8
# then train this config from them with
#   --cfg-options model.backbone.init_cfg.prefix=backbone.
#   model.backbone.init_cfg.checkpoint=work_dirs/resnext101-32x8d_gn_8xb32_in1k/epoch_100.pth
pretrain_config = 'configs/pretrain/resnext101-32x8d_gn_8xb32_in1k.py'
model = dict(
    backbone=dict(
        type='PositionNormResNeXt',
        norm_cfg=norm_cfg,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/gn_resnext101_32x8d_imagenet.pth'),
        checkpoint_hint=(
            'No ImageNet GN ResNeXt-101 32x8d is published (the GW authors trained their own with '
            'classification/ImageNet/experiments/ResNeXt101_GN_G32.sh of github.com/huangleiBuaa/GroupWhitening). '
            'Train one and save its torchvision-style state dict (conv1, bn1, layer1.0.bn1, ...) at this path. '
            'Or pretrain it: tools/dist_train.sh configs/pretrain/resnext101-32x8d_gn_8xb32_in1k.py 8 '
            '(one process: python tools/train.py configs/pretrain/resnext101-32x8d_gn_8xb32_in1k.py), '
            'then train with --cfg-options '
            'model.backbone.init_cfg.prefix=backbone. '
            'model.backbone.init_cfg.checkpoint=work_dirs/resnext101-32x8d_gn_8xb32_in1k/epoch_100.pth')),
    neck=dict(norm_cfg=norm_cfg),
    roi_head=dict(bbox_head=dict(norm_cfg=norm_cfg), mask_head=dict(norm_cfg=norm_cfg)))
