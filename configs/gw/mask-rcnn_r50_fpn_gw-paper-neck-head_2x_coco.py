# The GN protocol of mmdet's gn/mask-rcnn_r50_fpn_gn-all_2x_coco.py (Wu & He, ECCV 2018; mmdet model zoo:
# 40.2 box / 36.4 mask AP on COCO val2017) with Group Whitening (Huang et al., CVPR 2021) in place of GN.
# No published reference number for this combination; the GN row above is the one to compare with.
# Named gw-paper-neck-head, not gw-all as mmdet's gn-all: GW sits in the FPN and the heads but, in the
# backbone, only at the GW paper's positions (below). mmdet's protocol throughout, not maskrcnn-benchmark's
# (the Table 2/3 configs of this folder are the authors').
# Kept from the GN config: Mask R-CNN R-50-FPN, 24 epochs (lr 0.02, batch 16 = 8 GPUs x 2 images, steps
# 16/22, mmdet's warm-up), the norm in the FPN, after the 4 convs of the box head (Shared4Conv1FCBBoxHead)
# and after the 4 convs of the mask head -- here GW(64).
# Changed: the backbone. There is no ImageNet model with GW in every position; the authors' ImageNet GW
# ResNet-50 has GW after the stem conv and each 3x3 conv and BN elsewhere, so that is the backbone here
# (frozen BN in the BN positions, stem and stage 1 frozen), with its RGB / torchvision mean-std input.
# Pretrained: checkpoints/gw_resnet50_imagenet_converted.pth, made by
#   python tools/model_converters/gw2normdet.py <downloaded.pth> checkpoints/gw_resnet50_imagenet_converted.pth
# from the authors' ResNet-50 GW model (README of github.com/huangleiBuaa/GroupWhitening, Google Drive file
# 1bNeTDhfu5jg8aBatOCSQAe_WzTouUfHA). Training stops with FileNotFoundError and these steps when it is missing.
_base_ = ['mmdet::gn/mask-rcnn_r50_fpn_gn-all_2x_coco.py', './_base_/gw-paper_r50_imagenet-weights.py']
custom_imports = dict(imports=['normdet'], allow_failed_imports=False)

gw_norm_cfg = dict(type='GW', num_groups=64)
# ImageNet weights for this backbone made here instead (8 GPUs):
#   tools/dist_train.sh configs/pretrain/resnet50_gw-paper_8xb32_in1k.py 8
# then train this config from them with
#   --cfg-options model.backbone.init_cfg.prefix=backbone.
#   model.backbone.init_cfg.checkpoint=work_dirs/resnet50_gw-paper_8xb32_in1k/epoch_100.pth
pretrain_config = 'configs/pretrain/resnet50_gw-paper_8xb32_in1k.py'
model = dict(
    data_preprocessor=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(
        _delete_=True,
        type='PositionNormResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        stem_norm_cfg=gw_norm_cfg,
        norm2_cfg=gw_norm_cfg,
        style='pytorch',
        **_base_.gw_r50_imagenet_weights),
    neck=dict(norm_cfg=dict(_delete_=True, **gw_norm_cfg)),
    roi_head=dict(
        bbox_head=dict(norm_cfg=dict(_delete_=True, **gw_norm_cfg)),
        mask_head=dict(norm_cfg=dict(_delete_=True, **gw_norm_cfg))))
