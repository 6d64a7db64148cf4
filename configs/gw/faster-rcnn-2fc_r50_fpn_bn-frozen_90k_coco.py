# Group Whitening (Huang, Zhou, Liu, Zhu, Shao, CVPR 2021, arXiv 2009.13333), Table 2, row "BN-frozen",
# column "2fc head": Faster R-CNN R-50-FPN 1x, box AP 36.31 (COCO minival, maskrcnn-benchmark).
# As the authors' code (maskrcnn_debug/configs/e2e_faster_rcnn_R_50_0selfStep_1FPN_2fc_1x.yaml, run with
# FPN_POST_NMS_TOP_N_TRAIN 2000; maskrcnn-benchmark's settings in ./_base_/mrcnn-benchmark_rcnn-fpn.py and its
# 1x schedule, 8 GPUs x 2 images): frozen BN (affine and statistics), stem and stage 1 frozen, pytorch style
# (STRIDE_IN_1X1 False), RGB input with torchvision's mean/std; no norm in the FPN; 2fc head
# (FPN2MLPFeatureExtractor: Shared2FCBBoxHead, two fcs of 1024), except:
# - weights: their yaml loads an ImageNet ResNet-50 of their own, pytorch style with that input
#   (WEIGHT "yourTrainedModelPathFromImageNet"; the Caffe2 MSRA R-50 line is commented out), not published.
#   Here torchvision's (torchvision://resnet50, needs the torchvision package; downloaded by mmengine), the
#   same style and input;
# - the differences all configs of this folder share (README.md, "Where the configs differ from the paper"):
#   RPN training proposals per image (theirs: 2000 per 2-image batch), Detectron's rounded anchor shapes,
#   the RoIAlign region's far edge, low-quality anchor matches, the lower clamp of box deltas, ties at the
#   100th detection, frozen BN's eps, image resizing, training image filtering.
_base_ = './_base_/faster-rcnn_r50_fpn_mrcnn-benchmark_90k_coco.py'
custom_imports = dict(imports=['normdet'], allow_failed_imports=False)
# ImageNet weights for this backbone made here instead (8 GPUs):
#   tools/dist_train.sh configs/pretrain/resnet50_bn_8xb32_in1k.py 8
# then train this config from them in place of torchvision's with
#   --cfg-options model.backbone.init_cfg.prefix=backbone.
#   model.backbone.init_cfg.checkpoint=work_dirs/resnet50_bn_8xb32_in1k/epoch_100.pth
pretrain_config = 'configs/pretrain/resnet50_bn_8xb32_in1k.py'

# mmdet's base already freezes the stem and stage 1 and keeps BN in eval; requires_grad=False freezes γ/β too.
model = dict(
    backbone=dict(
        norm_cfg=dict(type='BN', requires_grad=False),
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')))
