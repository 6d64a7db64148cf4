# `make paper-table`, pretraining (a): the ResNet-18 (half width) with GN(32) everywhere; its backbone feeds
# the GN detectors.
_base_ = './resnet18-w32_bn_600it_shapes-crops.py'
model = dict(backbone=dict(norm_cfg=dict(_delete_=True, type='GN', num_groups=32)))
