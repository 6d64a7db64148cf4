"""Each norm type in a small mmdet Mask R-CNN (ResNet-18 FPN): backbone, neck and heads."""
import copy

import pytest
import torch
from mmengine.hub import get_config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import normdet  # noqa: F401
from normdet.layers import NORM_TYPES, is_norm, small_norm_cfg

# Each norm's small config (normdet.layers.small_norm_cfg) at the sizes this test has always run: 8 groups
# or 8 channels per group, SWBN's whitening rate 1e-3.
TEST_SIZES = dict(num_groups=8, group_size=8, whitening_lr=1e-3)


def norm_cfg_of(norm_type):
    return {key: TEST_SIZES.get(key, value) for key, value in small_norm_cfg(norm_type).items()}


def mask_rcnn_cfg(norm_cfg):
    cfg = get_config('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py').model
    cfg.backbone = dict(type='ResNet', depth=18, base_channels=16, num_stages=4, out_indices=(0, 1, 2, 3),
                        frozen_stages=-1, norm_cfg=norm_cfg, norm_eval=False, style='pytorch', init_cfg=None)
    cfg.neck = dict(type='FPN', in_channels=[16, 32, 64, 128], out_channels=32, num_outs=5, norm_cfg=norm_cfg)
    cfg.rpn_head.in_channels = cfg.rpn_head.feat_channels = 32
    cfg.rpn_head.anchor_generator.scales = [4]
    cfg.roi_head.bbox_roi_extractor.out_channels = 32
    cfg.roi_head.bbox_head = dict(
        type='Shared4Conv1FCBBoxHead', in_channels=32, conv_out_channels=32, fc_out_channels=64,
        roi_feat_size=7, num_classes=3, norm_cfg=norm_cfg,
        bbox_coder=cfg.roi_head.bbox_head.bbox_coder, reg_class_agnostic=False,
        loss_cls=cfg.roi_head.bbox_head.loss_cls, loss_bbox=cfg.roi_head.bbox_head.loss_bbox)
    cfg.roi_head.mask_roi_extractor.out_channels = 32
    cfg.roi_head.mask_head.update(in_channels=32, conv_out_channels=32, num_classes=3, norm_cfg=norm_cfg)
    cfg.train_cfg.rpn.sampler.num = 64
    cfg.train_cfg.rcnn.sampler.num = 32
    return cfg


def build_detector(norm_cfg):
    from mmdet.registry import MODELS
    init_default_scope('mmdet')
    torch.manual_seed(0)
    return MODELS.build(mask_rcnn_cfg(norm_cfg))


def batch(num_images=2, size=96, seed=0):
    from mmdet.testing import demo_mm_inputs
    torch.manual_seed(seed)
    return demo_mm_inputs(batch_size=num_images, image_shapes=[(3, size, size)] * num_images, num_items=[3] * num_images,
                          num_classes=3, with_mask=True)


@pytest.mark.parametrize('norm_type', NORM_TYPES)
def test_mask_rcnn_trains_a_step_and_round_trips(norm_type):
    norm_cfg = norm_cfg_of(norm_type)
    model = build_detector(copy.deepcopy(norm_cfg))
    plugin = [m for m in model.modules() if type(m).__name__ != 'GroupNorm' and is_norm(m)
              and not isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    parts = {name.split('.')[0] for name, m in model.named_modules() if m in plugin}
    assert parts == {'backbone', 'neck', 'roi_head'}, parts

    optim = build_optim_wrapper(model, dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01, momentum=0.9)))
    model.train()
    losses = model.train_step(batch(), optim)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total), losses

    model.eval()
    data = model.data_preprocessor(batch(seed=1), False)
    with torch.no_grad():
        expected = model(**data, mode='tensor')
    clone = build_detector(copy.deepcopy(norm_cfg)).eval()
    clone.load_state_dict(model.state_dict())
    with torch.no_grad():
        got = clone(**data, mode='tensor')
    for a, b in zip(torch.utils._pytree.tree_leaves(expected), torch.utils._pytree.tree_leaves(got)):
        assert torch.equal(a, b)
