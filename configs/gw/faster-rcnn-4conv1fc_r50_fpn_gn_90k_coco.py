# Group Whitening (Huang et al., CVPR 2021, arXiv 2009.13333), Table 2, row "GN", column "4conv1fc head":
# Faster R-CNN R-50-FPN 1x, box AP 37.86 (COCO minival, maskrcnn-benchmark).
# As the authors' config (e2e_faster_rcnn_R_50_0selfStep_1FPN_2Xconv_1x_GN.yaml): GN(32) in every backbone
# position, in the FPN and after each of the 4 convs of the box head (Shared4Conv1FCBBoxHead, 256 channels,
# fc 1024 without norm); maskrcnn-benchmark 1x schedule.
# Pretrained: the public Detectron GN ResNet-50 (open-mmlab://detectron/resnet50_gn) with its caffe-style
# input, where the authors used their own (unpublished) ImageNet GN ResNet-50: see
# faster-rcnn-2fc_r50_fpn_gn_90k_coco.py.
_base_ = './faster-rcnn-2fc_r50_fpn_gn_90k_coco.py'
custom_imports = dict(imports=['normdet'], allow_failed_imports=False)

norm_cfg = dict(type='GN', num_groups=32, requires_grad=True)
model = dict(
    neck=dict(norm_cfg=norm_cfg),
    roi_head=dict(bbox_head=dict(type='Shared4Conv1FCBBoxHead', conv_out_channels=256, norm_cfg=norm_cfg)))
