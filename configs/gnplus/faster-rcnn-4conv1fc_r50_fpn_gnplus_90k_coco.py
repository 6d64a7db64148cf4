# GNPlus in the Faster R-CNN "4conv1fc head" setting of Group Whitening (Huang et al., CVPR 2021) Table 2, with
# improved Group Normalization GN+ (Gunawan, Yin, Zhang, arXiv 2207.01972) in place of GW. Compare with the Table 2 rows (4conv1fc head, box AP on COCO minival):
# BN-frozen 36.39, GN 37.86, GW 39.60. The GN+ paper reports classification only (CIFAR, SVHN, small ImageNet), no detection number.
# Protocol as ../gw/faster-rcnn-4conv1fc_r50_fpn_gw_90k_coco.py: maskrcnn-benchmark 1x (8 GPUs x 2 images,
# lr 0.02, 90k iterations), GN(32) in the FPN, GNPlus after each of the 4 convs of the authors' box head (XConvFCBBoxHead: one ReLU after the last conv).
# Backbone as ./faster-rcnn-2fc_r50_fpn_gnplus_90k_coco.py (GNPlus at the GW positions of a frozen-BN torchvision
# ResNet-50, learning its statistics).
_base_ = './faster-rcnn-2fc_r50_fpn_gnplus_90k_coco.py'
custom_imports = dict(imports=['normdet'], allow_failed_imports=False)

norm_cfg = dict(type='GNPlus', num_groups=32)
model = dict(
    neck=dict(norm_cfg=dict(type='GN', num_groups=32, requires_grad=True)),
    roi_head=dict(bbox_head=dict(type='XConvFCBBoxHead', norm_cfg=norm_cfg)))
