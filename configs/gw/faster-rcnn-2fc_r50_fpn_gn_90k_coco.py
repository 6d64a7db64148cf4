# Group Whitening (Huang et al., CVPR 2021, arXiv 2009.13333), Table 2, row "GN", column "2fc head":
# Faster R-CNN R-50-FPN 1x, box AP 36.32 (COCO minival, maskrcnn-benchmark).
# As the authors' code (maskrcnn_debug/configs/e2e_faster_rcnn_R_50_0selfStep_1FPN_2fc_1x_GN.yaml, run with
# FPN_POST_NMS_TOP_N_TRAIN 2000): GN(32) in every backbone position (StemWithGN/BottleneckWithGN, the
# shortcut's too), trained, stem and stage 1 frozen; no norm in the FPN; 2fc head; the rest as
# faster-rcnn-2fc_r50_fpn_bn-frozen_90k_coco.py, except:
# - weights and input: theirs an ImageNet GN ResNet-50 of their own (pytorch style, RGB with torchvision's
#   mean/std), not published. Here the public Detectron GN ResNet-50 (open-mmlab://detectron/resnet50_gn,
#   downloaded by mmengine) that mmdet's gn/ configs use, with its caffe-style input (BGR, mean subtraction
#   only): a different ImageNet model, so the result need not match 36.32;
# - the differences all configs of this folder share (README.md, "Where the configs differ from the paper"),
#   frozen BN's eps aside (no BN here).
_base_ = './faster-rcnn-2fc_r50_fpn_bn-frozen_90k_coco.py'
custom_imports = dict(imports=['normdet'], allow_failed_imports=False)
# ImageNet weights for this backbone made here instead (8 GPUs; the authors' protocol: their own ImageNet
# GN ResNet-50):
#   tools/dist_train.sh configs/pretrain/resnet50_gn_8xb32_in1k.py 8
# then train this config from them, with torchvision's layer names (mmdet's ResNet calls GN layers gn1, ...)
# and RGB input:
#   --cfg-options model.backbone.init_cfg.prefix=backbone.
#   model.backbone.init_cfg.checkpoint=work_dirs/resnet50_gn_8xb32_in1k/epoch_100.pth
#   model.backbone.type=PositionNormResNet model.data_preprocessor.bgr_to_rgb=True
#   model.data_preprocessor.mean=[123.675,116.28,103.53] model.data_preprocessor.std=[58.395,57.12,57.375]
pretrain_config = 'configs/pretrain/resnet50_gn_8xb32_in1k.py'

norm_cfg = dict(type='GN', num_groups=32, requires_grad=True)
model = dict(
    data_preprocessor=dict(mean=[103.530, 116.280, 123.675], std=[1.0, 1.0, 1.0], bgr_to_rgb=False),
    backbone=dict(
        norm_cfg=norm_cfg,
        init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://detectron/resnet50_gn')))
