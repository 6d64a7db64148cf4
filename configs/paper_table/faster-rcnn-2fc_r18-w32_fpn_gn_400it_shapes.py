# `make paper-table` (b), Table 2 in miniature, row "GN", column "2fc head" (paper: 36.32): the GN
# classifier's backbone (resnet18-w32_gn_600it_shapes-crops.py), GN(32) at every backbone position, trained;
# stem and stage 1 frozen as in the BN-frozen row; no norm in the FPN (the authors' GN 2fc config).
_base_ = './faster-rcnn-2fc_r18-w32_fpn_bn-frozen_400it_shapes.py'
pretrain_config = 'configs/paper_table/resnet18-w32_gn_600it_shapes-crops.py'
model = dict(
    backbone=dict(
        norm_cfg=dict(_delete_=True, type='GN', num_groups=32, requires_grad=True),
        norm_eval=False,
        init_cfg=dict(checkpoint='work_dirs/resnet18-w32_gn_600it_shapes-crops/iter_600.pth'),
        checkpoint_hint=f'Pretrain it first: python tools/train.py {pretrain_config}'))
