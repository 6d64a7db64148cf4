# Group Whitening (Huang et al., CVPR 2021, arXiv 2009.13333), Table 2, row "GW", column "4conv1fc head":
# Faster R-CNN R-50-FPN 1x, box AP 39.60 (COCO minival, maskrcnn-benchmark).
# As the authors' code (maskrcnn_debug/configs/e2e_faster_rcnn_R_50_0selfStep_1FPN_2Xconv_1x_GW.yaml, run with
# FPN_POST_NMS_TOP_N_TRAIN 2000): backbone as faster-rcnn-2fc_r50_fpn_gw_90k_coco.py (GW(64) after the stem
# conv and each 3x3 conv, frozen BN elsewhere, the authors' converted ImageNet GW ResNet-50), GN(32) in the
# FPN (FPN.USE_GN 'GN') and their 4conv1fc box head (ROI_BOX_HEAD.USE_GN 'IGWItN': XConvFCBBoxHead, four 3x3
# convs without bias, each followed by GW(64), one ReLU after the last, one fc of 1024 without norm), except:
# - GW's eps: 1e-5 added to each group covariance, where their GroupItN adds none;
# - the differences all configs of this folder share (README.md, "Where the configs differ from the paper").
# mmdet's Shared4Conv1FCBBoxHead instead: --cfg-options model.roi_head.bbox_head.type=Shared4Conv1FCBBoxHead.
_base_ = './faster-rcnn-2fc_r50_fpn_gw_90k_coco.py'
custom_imports = dict(imports=['normdet'], allow_failed_imports=False)

model = dict(
    neck=dict(norm_cfg=dict(type='GN', num_groups=32, requires_grad=True)),
    roi_head=dict(bbox_head=dict(type='XConvFCBBoxHead', norm_cfg=_base_.gw_norm_cfg)))
