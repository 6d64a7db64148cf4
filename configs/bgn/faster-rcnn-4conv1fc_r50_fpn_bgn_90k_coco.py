# BGN in the Faster R-CNN "4conv1fc head" setting of Group Whitening (Huang et al., CVPR 2021) Table 2, with
# Batch Group Normalization (Zhou et al., arXiv 2012.02782) in place of GW. Compare with the Table 2 rows (4conv1fc head, box AP on COCO minival):
# BN-frozen 36.39, GN 37.86, GW 39.60. The BGN paper reports ImageNet classification (ResNet-50 at batch 2: BN 66.512, BGN 76.096 top-1), no number for this detection setting.
# Protocol as ../gw/faster-rcnn-4conv1fc_r50_fpn_gw_90k_coco.py: maskrcnn-benchmark 1x (8 GPUs x 2 images,
# lr 0.02, 90k iterations), GN(32) in the FPN, BGN after each of the 4 convs of the authors' box head (XConvFCBBoxHead: one ReLU after the last conv).
# Backbone as ./faster-rcnn-2fc_r50_fpn_bgn_90k_coco.py (BGN at the GW positions of a frozen-BN torchvision
# ResNet-50, learning its statistics).
_base_ = './faster-rcnn-2fc_r50_fpn_bgn_90k_coco.py'
custom_imports = dict(imports=['normdet'], allow_failed_imports=False)

norm_cfg = dict(type='BGN', num_groups=32)
model = dict(
    neck=dict(norm_cfg=dict(type='GN', num_groups=32, requires_grad=True)),
    roi_head=dict(bbox_head=dict(type='XConvFCBBoxHead', norm_cfg=norm_cfg)))
