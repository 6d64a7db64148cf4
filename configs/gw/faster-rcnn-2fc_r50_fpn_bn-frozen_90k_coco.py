# Group Whitening (Huang, Zhou, Liu, Zhu, Shao, CVPR 2021, arXiv 2009.13333), Table 2, row "BN-frozen",
# column "2fc head": Faster R-CNN R-50-FPN 1x, box AP 36.31 (COCO minival, maskrcnn-benchmark).
# Protocol: maskrcnn-benchmark 1x (8 GPUs x 2 images, lr 0.02, 90k iterations, steps 60k/80k, warm-up 500
# at 1/3; ../_base_/schedules/mrcnn-benchmark_1x-90k.py). COCO 2014 train+valminusminival / minival are the
# images of COCO 2017 train / val, which mmdet's dataset config reads.
# Backbone: frozen BN (affine and statistics), stem and stage 1 frozen. Pretrained: torchvision's ImageNet
# ResNet-50 (torchvision://resnet50, needs the torchvision package; downloaded by mmengine), pytorch style,
# RGB input normalised with torchvision's mean/std. The paper's baseline used maskrcnn-benchmark's
# Caffe2 MSRA R-50 (caffe style); we use the torchvision weights the GW backbones are compared with.
# Head: Shared2FCBBoxHead (two fc layers of 1024), no norm; FPN without norm.
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    '../_base_/schedules/mrcnn-benchmark_1x-90k.py',
]
custom_imports = dict(imports=['normdet'], allow_failed_imports=False)
# ImageNet weights for this backbone made here instead (8 GPUs):
#   tools/dist_train.sh configs/pretrain/resnet50_bn_8xb32_in1k.py 8
# then train this config from them in place of torchvision's with
#   --cfg-options model.backbone.init_cfg.prefix=backbone.
#   model.backbone.init_cfg.checkpoint=work_dirs/resnet50_bn_8xb32_in1k/epoch_100.pth
pretrain_config = 'configs/pretrain/resnet50_bn_8xb32_in1k.py'

model = dict(
    backbone=dict(
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')))
