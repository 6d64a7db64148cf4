# `make paper-table` (b), Table 2 in miniature, row "GW", column "2fc head" (paper: 38.13): the GW
# classifier's backbone (resnet18-w32_gw-paper_600it_shapes-crops.py), GW(64) after the stem conv and each
# block's second 3x3 conv, its BN frozen elsewhere, stem and stage 1 frozen; no norm in the FPN.
_base_ = './faster-rcnn-2fc_r18-w32_fpn_bn-frozen_400it_shapes.py'
pretrain_config = 'configs/paper_table/resnet18-w32_gw-paper_600it_shapes-crops.py'
gw = dict(type='GW', num_groups=64)
model = dict(
    backbone=dict(
        stem_norm_cfg=gw,
        norm2_cfg=gw,
        init_cfg=dict(checkpoint='work_dirs/resnet18-w32_gw-paper_600it_shapes-crops/iter_600.pth'),
        checkpoint_hint=f'Pretrain it first: python tools/train.py {pretrain_config}'))
