# Group Whitening (Huang et al., CVPR 2021, arXiv 2009.13333), Table 2, row "BN-frozen", column
# "4conv1fc head": Faster R-CNN R-50-FPN 1x, box AP 36.39 (COCO minival, maskrcnn-benchmark).
# As the authors' code (maskrcnn_debug/configs/e2e_faster_rcnn_R_50_0selfStep_1FPN_2Xconv_1x.yaml, run with
# FPN_POST_NMS_TOP_N_TRAIN 2000): faster-rcnn-2fc_r50_fpn_bn-frozen_90k_coco.py with their 4conv1fc box head
# (FPNXconv1fcFeatureExtractor, NUM_STACKED_CONVS 4, CONV_HEAD_DIM 256, MLP_HEAD_DIM 1024: XConvFCBBoxHead,
# four 3x3 convs with bias and one ReLU after the last, one fc), no norm in the head or the FPN, except:
# - weights: torchvision's ResNet-50 for the authors' own, unpublished one (same style and input; see
#   faster-rcnn-2fc_r50_fpn_bn-frozen_90k_coco.py);
# - the differences all configs of this folder share (README.md, "Where the configs differ from the paper").
# mmdet's Shared4Conv1FCBBoxHead (a ReLU after every conv) instead: --cfg-options
# model.roi_head.bbox_head.type=Shared4Conv1FCBBoxHead (see README.md).
_base_ = './faster-rcnn-2fc_r50_fpn_bn-frozen_90k_coco.py'
custom_imports = dict(imports=['normdet'], allow_failed_imports=False)

model = dict(roi_head=dict(bbox_head=dict(type='XConvFCBBoxHead')))
