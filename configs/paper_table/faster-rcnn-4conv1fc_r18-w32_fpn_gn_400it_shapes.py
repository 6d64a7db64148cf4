# `make paper-table` (b), Table 2 in miniature, row "GN", column "4conv1fc head" (paper: 37.86): the GN 2fc
# detector with GN(32) in the FPN and after each of the 4 box-head convs, as the authors' GN configs.
_base_ = './faster-rcnn-2fc_r18-w32_fpn_gn_400it_shapes.py'
gn = dict(type='GN', num_groups=32, requires_grad=True)
model = dict(
    neck=dict(norm_cfg=gn),
    roi_head=dict(bbox_head=dict(type='XConvFCBBoxHead', conv_out_channels=64, norm_cfg=gn)))
