# Group Whitening (Huang et al., CVPR 2021, arXiv 2009.13333), Table 3, row "BN-frozen":
# Mask R-CNN ResNeXt-101 32x8d-FPN 1x, box AP 42.24 / mask AP 37.53 (COCO minival, maskrcnn-benchmark).
# As the authors' config (e2e_mask_rcnn_X_101_32x8d_FPN_2Xconv_1Image_1x.yaml): box head of 4 convs + 1 fc
# (FPNXconv1fcFeatureExtractor: Shared4Conv1FCBBoxHead, 256 channels, fc 1024), mask head of 4 convs, no
# norm outside the backbone; frozen BN, stem and stage 1 frozen.
# Protocol: maskrcnn-benchmark 1x for 8 GPUs x 1 image (lr 0.01, 180k iterations, steps 120k/160k,
# warm-up 500 at 1/3; ../_base_/schedules/mrcnn-benchmark_1x-180k.py); COCO 2017 train / val (= 2014
# train+valminusminival / minival).
# Pretrained: torchvision's ImageNet ResNeXt-101 32x8d (torchvision://resnext101_32x8d, needs the torchvision
# package; downloaded by mmengine), pytorch style, RGB with torchvision's mean/std. The paper's baseline
# used Detectron's Caffe2 X-101-32x8d (catalog://ImageNetPretrained/FAIR/20171220/X-101-32x8d).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    '../_base_/schedules/mrcnn-benchmark_1x-180k.py',
]
custom_imports = dict(imports=['normdet'], allow_failed_imports=False)
# ImageNet weights for this backbone made here instead (8 GPUs):
#   tools/dist_train.sh configs/pretrain/resnext101-32x8d_bn_8xb32_in1k.py 8
# then train this config from them in place of torchvision's with
#   --cfg-options model.backbone.init_cfg.prefix=backbone.
#   model.backbone.init_cfg.checkpoint=work_dirs/resnext101-32x8d_bn_8xb32_in1k/epoch_100.pth
pretrain_config = 'configs/pretrain/resnext101-32x8d_bn_8xb32_in1k.py'

model = dict(
    backbone=dict(
        type='ResNeXt',
        depth=101,
        groups=32,
        base_width=8,
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnext101_32x8d')),
    roi_head=dict(bbox_head=dict(type='Shared4Conv1FCBBoxHead', conv_out_channels=256)))
train_dataloader = dict(batch_size=1)
