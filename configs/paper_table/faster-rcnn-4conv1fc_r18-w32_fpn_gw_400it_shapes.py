# `make paper-table` (b), Table 2 in miniature, row "GW", column "4conv1fc head" (paper: 39.60): the GW 2fc
# detector with GN(32) in the FPN and GW after each of the 4 box-head convs, as the authors' config. 16 groups: the
# paper's 64 groups of its 256-channel head are 4 channels per group, and so are 16 of this 64-channel head
# (64 groups would whiten 64 dimensions from the 49 positions of a RoI, a rank-deficient covariance).
_base_ = './faster-rcnn-2fc_r18-w32_fpn_gw_400it_shapes.py'
model = dict(
    neck=dict(norm_cfg=dict(type='GN', num_groups=32, requires_grad=True)),
    roi_head=dict(
        bbox_head=dict(type='XConvFCBBoxHead', conv_out_channels=64, norm_cfg=dict(type='GW', num_groups=16))))
