# `make paper-table`, pretraining (a): the ResNet-18 (half width) with GW(64 groups, clipped to C) after the
# stem conv and each block's second 3x3 conv and BN elsewhere, the GW paper's resnet_whiten_010n placement;
# its backbone feeds the GW detectors, where that BN is frozen.
_base_ = './resnet18-w32_bn_600it_shapes-crops.py'
gw = dict(type='GW', num_groups=64)
model = dict(backbone=dict(stem_norm_cfg=gw, norm2_cfg=gw))
