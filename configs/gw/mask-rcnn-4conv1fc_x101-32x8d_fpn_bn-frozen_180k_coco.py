# Group Whitening (Huang et al., CVPR 2021, arXiv 2009.13333), Table 3, row "BN-frozen":
# Mask R-CNN ResNeXt-101 32x8d-FPN 1x, box AP 42.24 / mask AP 37.53 (COCO minival, maskrcnn-benchmark).
# As the authors' code (maskrcnn_debug/configs/e2e_mask_rcnn_X_101_32x8d_FPN_2Xconv_1Image_1x.yaml, run with
# FPN_POST_NMS_TOP_N_TRAIN 1000 for 1 image per GPU; maskrcnn-benchmark's settings in
# ./_base_/mrcnn-benchmark_rcnn-fpn.py and its 1x schedule for 8 GPUs x 1 image: lr 0.01, 180k iterations,
# steps 120k/160k, warm-up 500 at 1/3): ResNeXt-101 32x8d (NUM_GROUPS 32, WIDTH_PER_GROUP 8, stride in the
# 3x3 conv), frozen BN, stem and stage 1 frozen; no norm outside the backbone; their 4conv1fc box head
# (FPNXconv1fcFeatureExtractor: XConvFCBBoxHead, four 3x3 convs of 256 with one ReLU after the last, fc 1024);
# mask head of 4 convs (MaskRCNNFPNFeatureExtractor, 14x14 RoIs, 28x28 masks), except:
# - weights and input: theirs FAIR's Caffe2 X-101-32x8d (catalog://ImageNetPretrained/FAIR/20171220/X-101-32x8d)
#   with BGR input, mean [102.98, 115.95, 122.77], std 1 (the yaml sets no INPUT, so defaults.py's). That
#   model is a Caffe2 pickle mmengine does not load as is, and mmdet's open-mmlab://detectron2/resnext101_32x8d
#   is another model (Detectron2's, std [57.375, 57.12, 58.395]). Here torchvision's ImageNet ResNeXt-101 32x8d
#   (torchvision://resnext101_32x8d, needs the torchvision package; downloaded by mmengine) with RGB input and
#   torchvision's mean/std: the style and input of the GN and GW rows' backbones. Their model instead (not
#   tried here): download https://dl.fbaipublicfiles.com/detectron/ImageNetPretrained/20171220/X-101-32x8d.pkl,
#   convert it with mmdet's tools/model_converters/detectron2pytorch.py (the pip package has it under
#   mmdet/.mim/tools/): python detectron2pytorch.py X-101-32x8d.pkl checkpoints/x101-32x8d_caffe2.pth 101,
#   then train with --cfg-options model.backbone.init_cfg.checkpoint=checkpoints/x101-32x8d_caffe2.pth
#   model.data_preprocessor.bgr_to_rgb=False model.data_preprocessor.mean=[102.9801,115.9465,122.7717]
#   model.data_preprocessor.std=[1.0,1.0,1.0];
# - the differences all configs of this folder share (README.md, "Where the configs differ from the paper"):
#   Detectron's rounded anchor shapes, the RoIAlign region's far edge, low-quality anchor matches, the lower
#   clamp of box deltas, ties at the 100th detection, mask targets and pasting, frozen BN's eps, image
#   resizing, training image filtering.
# mmdet's Shared4Conv1FCBBoxHead (a ReLU after every conv) instead: --cfg-options
# model.roi_head.bbox_head.type=Shared4Conv1FCBBoxHead (see README.md).
_base_ = './_base_/mask-rcnn_r50_fpn_mrcnn-benchmark_180k_coco.py'
custom_imports = dict(imports=['normdet'], allow_failed_imports=False)
# ImageNet weights for this backbone made here instead (8 GPUs):
#   tools/dist_train.sh configs/pretrain/resnext101-32x8d_bn_8xb32_in1k.py 8
# then train this config from them in place of torchvision's with
#   --cfg-options model.backbone.init_cfg.prefix=backbone.
#   model.backbone.init_cfg.checkpoint=work_dirs/resnext101-32x8d_bn_8xb32_in1k/epoch_100.pth
pretrain_config = 'configs/pretrain/resnext101-32x8d_bn_8xb32_in1k.py'

# mmdet's base already freezes the stem and stage 1 and keeps BN in eval; requires_grad=False freezes γ/β too.
model = dict(
    backbone=dict(
        type='ResNeXt',
        depth=101,
        groups=32,
        base_width=8,
        norm_cfg=dict(type='BN', requires_grad=False),
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnext101_32x8d')),
    roi_head=dict(bbox_head=dict(type='XConvFCBBoxHead')))
