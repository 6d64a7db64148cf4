# Group Whitening (Huang et al., CVPR 2021, arXiv 2009.13333), Table 2, row "BN-frozen", column
# "4conv1fc head": Faster R-CNN R-50-FPN 1x, box AP 36.39 (COCO minival, maskrcnn-benchmark).
# As faster-rcnn-2fc_r50_fpn_bn-frozen_90k_coco.py (frozen-BN torchvision ResNet-50, maskrcnn-benchmark 1x
# schedule) with the box head of four 3x3 convs (256 channels) and one fc (1024): Shared4Conv1FCBBoxHead,
# no norm in the head or the FPN.
_base_ = './faster-rcnn-2fc_r50_fpn_bn-frozen_90k_coco.py'
custom_imports = dict(imports=['normdet'], allow_failed_imports=False)

model = dict(roi_head=dict(bbox_head=dict(type='Shared4Conv1FCBBoxHead', conv_out_channels=256)))
