# `make paper-table` (b), Table 2 in miniature, row "BN-frozen", column "4conv1fc head" (paper: 36.39): as
# the 2fc config, with the authors' 4conv1fc head (XConvFCBBoxHead: 4 convs of 64 channels without norm, one
# ReLU after the last, one fc of 256).
_base_ = './faster-rcnn-2fc_r18-w32_fpn_bn-frozen_400it_shapes.py'
model = dict(roi_head=dict(bbox_head=dict(type='XConvFCBBoxHead', conv_out_channels=64)))
