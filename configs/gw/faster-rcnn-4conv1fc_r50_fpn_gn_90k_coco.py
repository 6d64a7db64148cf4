# Group Whitening (Huang et al., CVPR 2021, arXiv 2009.13333), Table 2, row "GN", column "4conv1fc head":
# Faster R-CNN R-50-FPN 1x, box AP 37.86 (COCO minival, maskrcnn-benchmark).
# As the authors' code (maskrcnn_debug/configs/e2e_faster_rcnn_R_50_0selfStep_1FPN_2Xconv_1x_GN.yaml, run with
# FPN_POST_NMS_TOP_N_TRAIN 2000): faster-rcnn-2fc_r50_fpn_gn_90k_coco.py (GN(32) in every backbone position)
# with GN(32) in the FPN (FPN.USE_GN) and their 4conv1fc box head (XConvFCBBoxHead: four 3x3 convs without
# bias, each followed by GN(32), one ReLU after the last, one fc of 1024 without norm), except:
# - weights and input: Detectron's GN ResNet-50 with caffe-style input for the authors' own, unpublished,
#   pytorch-style one (see faster-rcnn-2fc_r50_fpn_gn_90k_coco.py);
# - the differences all configs of this folder share (README.md, "Where the configs differ from the paper"),
#   frozen BN's eps aside (no BN here).
# mmdet's Shared4Conv1FCBBoxHead instead: --cfg-options model.roi_head.bbox_head.type=Shared4Conv1FCBBoxHead.
_base_ = './faster-rcnn-2fc_r50_fpn_gn_90k_coco.py'
custom_imports = dict(imports=['normdet'], allow_failed_imports=False)

model = dict(
    neck=dict(norm_cfg=_base_.norm_cfg),
    roi_head=dict(bbox_head=dict(type='XConvFCBBoxHead', norm_cfg=_base_.norm_cfg)))
