# `make paper-table`, pretraining (a): the demo detectors' ResNet-18 (half width) with BN everywhere, as a
# classifier of the 6 shape classes on 64 x 64 crops; its backbone feeds the BN-frozen detectors.
_base_ = [
    '../_base_/models/resnet18-w32_shapes-crops.py', '../_base_/datasets/shapes_crops.py',
    '../_base_/schedules/shapes-crops_600it.py'
]
