# Group Whitening (Huang et al., CVPR 2021, arXiv 2009.13333), Table 2, row "GW", column "4conv1fc head":
# Faster R-CNN R-50-FPN 1x, box AP 39.60 (COCO minival, maskrcnn-benchmark).
# As the authors' config (e2e_faster_rcnn_R_50_0selfStep_1FPN_2Xconv_1x_GW.yaml): backbone as
# faster-rcnn-2fc_r50_fpn_gw_90k_coco.py (GW(64) after the stem conv and each 3x3 conv, frozen BN elsewhere),
# GN(32) in the FPN, GW(64) after each of the 4 convs of the box head (Shared4Conv1FCBBoxHead, 256
# channels, convs without bias), fc 1024 without norm; maskrcnn-benchmark 1x schedule.
# Pretrained: the authors' ImageNet GW ResNet-50, converted locally to
# checkpoints/gw_resnet50_imagenet_converted.pth (steps in faster-rcnn-2fc_r50_fpn_gw_90k_coco.py).
_base_ = './faster-rcnn-2fc_r50_fpn_gw_90k_coco.py'
custom_imports = dict(imports=['normdet'], allow_failed_imports=False)

model = dict(
    neck=dict(norm_cfg=dict(type='GN', num_groups=32, requires_grad=True)),
    roi_head=dict(
        bbox_head=dict(
            type='Shared4Conv1FCBBoxHead', conv_out_channels=256, norm_cfg=dict(type='GW', num_groups=64))))
