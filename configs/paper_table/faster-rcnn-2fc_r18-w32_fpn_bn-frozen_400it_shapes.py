# `make paper-table` (b), the GW paper's Table 2 in miniature, row "BN-frozen", column "2fc head" (paper:
# 36.31 box AP on COCO): Faster R-CNN whose backbone is the BN classifier of
# resnet18-w32_bn_600it_shapes-crops.py, BN frozen (statistics and affine), stem and stage 1 frozen, no norm in
# the FPN, Shared2FCBBoxHead. The weights: python tools/train.py configs/paper_table/resnet18-w32_bn_600it_shapes-crops.py
_base_ = [
    '../_base_/models/faster-rcnn_r18-w32_fpn_shapes.py', '../_base_/datasets/shapes_instance.py',
    '../_base_/schedules/cpu_demo_400it.py'
]
pretrain_config = 'configs/paper_table/resnet18-w32_bn_600it_shapes-crops.py'
model = dict(
    backbone=dict(
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        init_cfg=dict(_delete_=True, type='Pretrained', prefix='backbone.',
                      checkpoint='work_dirs/resnet18-w32_bn_600it_shapes-crops/iter_600.pth'),
        checkpoint_hint=f'Pretrain it first: python tools/train.py {pretrain_config}'))
# Boxes only: the shapes data also carries masks, which Faster R-CNN does not predict.
val_evaluator = dict(metric=['bbox'])
test_evaluator = val_evaluator
