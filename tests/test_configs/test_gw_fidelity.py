"""The Group Whitening paper's COCO configs (configs/gw/, Tables 2 and 3) keep the settings of the authors'
maskrcnn-benchmark code (huangleiBuaa/GroupWhitening, maskrcnn_debug/): their 4conv1fc head, smooth-L1 box
losses, border-crossing anchors dropped, Detectron's RoIAlign with sampling ratio 2, 2x lr and no weight
decay for every bias, kaiming_uniform(a=1) for the FPN and the fcs. Checked on the parsed configs and on the
cheap parts they build (heads, necks, RoI extractors, anchors, the optimiser of one R-50 detector built on
the meta device); no forward pass of a full detector."""
import math
from typing import NamedTuple, Optional

import pytest
import torch
import torch.nn as nn
from mmdet.registry import MODELS, TASK_UTILS
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import normdet  # noqa: F401
from config_files import CONFIG_DIR, load_config
from normdet.layers import GroupWhitening


class Row(NamedTuple):
    yaml: str
    head: str
    head_norm: Optional[str]
    neck_norm: Optional[str]
    caffe_input: bool  # the configs that load Detectron's GN ResNet-50 take BGR, mean-only input


XCONV, TWO_FC = 'XConvFCBBoxHead', 'Shared2FCBBoxHead'
R50 = 'e2e_faster_rcnn_R_50_0selfStep_1FPN_'
X101 = 'e2e_mask_rcnn_X_101_32x8d_FPN_2Xconv_1Image_1x'
TABLES = {
    'faster-rcnn-2fc_r50_fpn_bn-frozen_90k_coco.py': Row(R50 + '2fc_1x.yaml', TWO_FC, None, None, False),
    'faster-rcnn-2fc_r50_fpn_gn_90k_coco.py': Row(R50 + '2fc_1x_GN.yaml', TWO_FC, None, None, True),
    'faster-rcnn-2fc_r50_fpn_gw_90k_coco.py': Row(R50 + '2fc_1x_GW.yaml', TWO_FC, None, None, False),
    'faster-rcnn-4conv1fc_r50_fpn_bn-frozen_90k_coco.py': Row(R50 + '2Xconv_1x.yaml', XCONV, None, None, False),
    'faster-rcnn-4conv1fc_r50_fpn_gn_90k_coco.py': Row(R50 + '2Xconv_1x_GN.yaml', XCONV, 'GN', 'GN', True),
    'faster-rcnn-4conv1fc_r50_fpn_gw_90k_coco.py': Row(R50 + '2Xconv_1x_GW.yaml', XCONV, 'GW', 'GN', False),
    'mask-rcnn-4conv1fc_x101-32x8d_fpn_bn-frozen_180k_coco.py': Row(X101 + '.yaml', XCONV, None, None, False),
    'mask-rcnn-4conv1fc_x101-32x8d_fpn_gn_180k_coco.py': Row(X101 + '_GN.yaml', XCONV, 'GN', 'GN', False),
    'mask-rcnn-4conv1fc_x101-32x8d_fpn_gw_180k_coco.py': Row(X101 + '_GW.yaml', XCONV, 'GW', 'GW', False),
}
# mmdet's GN protocol with GW in place of GN: mmdet's settings on purpose, not the authors'.
GN_PROTOCOL = 'mask-rcnn_r50_fpn_gw-paper-neck-head_2x_coco.py'
AUTHORS_BBOX_HEAD_INIT = [
    dict(type='Normal', std=0.01, layer='Conv2d'),
    dict(type='Caffe2Xavier', override=dict(name='shared_fcs')),
    dict(type='Normal', std=0.01, override=dict(name='fc_cls')),
    dict(type='Normal', std=0.001, override=dict(name='fc_reg')),
]
NORM_CFGS = {'GN': dict(type='GN', num_groups=32, requires_grad=True), 'GW': dict(type='GW', num_groups=64)}


@pytest.fixture(scope='module', autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')


def gw_config(name):
    return load_config('gw', name)


def is_mask(name):
    return name.startswith('mask-rcnn')


def test_every_table_config_is_checked():
    shipped = {p.name for p in (CONFIG_DIR / 'gw').glob('*.py')}
    assert shipped == set(TABLES) | {GN_PROTOCOL}


@pytest.mark.parametrize('name', TABLES)
def test_header_names_the_authors_yaml_and_the_exceptions(name):
    header = (CONFIG_DIR / 'gw' / name).read_text().split('\n_base_ = ')[0]
    assert f"As the authors' code (maskrcnn_debug/configs/{TABLES[name].yaml}" in ' '.join(header.split('\n# '))
    assert 'except:' in header.lower() and 'README.md' in header


@pytest.mark.parametrize('name', TABLES)
def test_heads_and_norms(name):
    row, model = TABLES[name], gw_config(name).model
    bbox_head = model.roi_head.bbox_head
    assert bbox_head.type == row.head and bbox_head.fc_out_channels == 1024 and bbox_head.in_channels == 256
    assert 'num_shared_convs' not in bbox_head  # the head's 4; kept out so that the type alone can switch
    assert bbox_head.get('norm_cfg') == NORM_CFGS.get(row.head_norm)
    assert model.neck.get('norm_cfg') == NORM_CFGS.get(row.neck_norm)
    if is_mask(name):
        assert model.roi_head.mask_head.get('norm_cfg') == NORM_CFGS.get(row.head_norm)


@pytest.mark.parametrize('name', TABLES)
def test_losses_coders_and_anchors(name):
    model = gw_config(name).model
    assert model.rpn_head.loss_bbox == dict(type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.0)
    assert model.roi_head.bbox_head.loss_bbox == dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0)
    assert model.rpn_head.loss_cls == dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)
    # mmdet's coder on mmdet's boxes computes their +1-convention coder; the Legacy one does not.
    assert model.rpn_head.bbox_coder == dict(type='DeltaXYWHBBoxCoder', target_means=[0.] * 4, target_stds=[1.] * 4)
    assert model.roi_head.bbox_head.bbox_coder == dict(
        type='DeltaXYWHBBoxCoder', target_means=[0.] * 4, target_stds=[0.1, 0.1, 0.2, 0.2])
    assert model.rpn_head.anchor_generator == dict(
        type='AnchorGenerator', scales=[8], ratios=[0.5, 1.0, 2.0], strides=[4, 8, 16, 32, 64], center_offset=0.5)


@pytest.mark.parametrize('name', TABLES)
def test_sampling_matching_and_nms(name):
    train, test = gw_config(name).model.train_cfg, gw_config(name).model.test_cfg
    assert train.rpn.allowed_border == 0  # STRADDLE_THRESH 0
    assert train.rpn.assigner == dict(type='MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.0,
                                      match_low_quality=True, ignore_iof_thr=-1)
    assert train.rpn.sampler == dict(type='RandomSampler', num=256, pos_fraction=0.5, neg_pos_ub=-1,
                                     add_gt_as_proposals=False)
    assert train.rpn_proposal == dict(nms_pre=2000, max_per_img=1000, nms=dict(type='nms', iou_threshold=0.7),
                                      min_bbox_size=-1)
    assert train.rcnn.assigner == dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5,
                                       match_low_quality=False, ignore_iof_thr=-1)
    assert train.rcnn.sampler == dict(type='RandomSampler', num=512, pos_fraction=0.25, neg_pos_ub=-1,
                                      add_gt_as_proposals=True)
    assert test.rpn == dict(nms_pre=1000, max_per_img=1000, nms=dict(type='nms', iou_threshold=0.7), min_bbox_size=-1)
    assert test.rcnn.score_thr == 0.05 and test.rcnn.nms == dict(type='nms', iou_threshold=0.5)
    assert test.rcnn.max_per_img == 100
    if is_mask(name):
        assert train.rcnn.mask_size == 28 and test.rcnn.mask_thr_binary == 0.5


@pytest.mark.parametrize('name', TABLES)
def test_roi_align_is_detectrons_with_sampling_ratio_2(name):
    roi_head = gw_config(name).model.roi_head
    assert roi_head.bbox_roi_extractor.roi_layer == dict(type='RoIAlign', output_size=7, sampling_ratio=2,
                                                         aligned=False)
    assert roi_head.bbox_roi_extractor.featmap_strides == [4, 8, 16, 32]
    if is_mask(name):
        assert roi_head.mask_roi_extractor.roi_layer == dict(type='RoIAlign', output_size=14, sampling_ratio=2,
                                                             aligned=False)


@pytest.mark.parametrize('name', TABLES)
def test_optimiser_schedule_and_init_cfgs(name):
    cfg = gw_config(name)
    assert cfg.optim_wrapper.paramwise_cfg == dict(custom_keys={'bias': dict(lr_mult=2.0, decay_mult=0.0)})
    lr, batch, iters, steps = (0.01, 1, 180000, [120000, 160000]) if is_mask(name) else (0.02, 2, 90000, [60000, 80000])
    assert cfg.optim_wrapper.optimizer == dict(type='SGD', lr=lr, momentum=0.9, weight_decay=0.0001)
    assert cfg.train_dataloader.batch_size == batch and cfg.train_cfg.max_iters == iters
    assert cfg.param_scheduler[1].milestones == steps
    assert cfg.param_scheduler[0] == dict(type='LinearLR', start_factor=1.0 / 3, by_epoch=False, begin=0, end=500)
    assert cfg.model.neck.init_cfg == dict(type='Caffe2Xavier', layer='Conv2d')
    assert cfg.model.roi_head.bbox_head.init_cfg == AUTHORS_BBOX_HEAD_INIT


@pytest.mark.parametrize('name', TABLES)
def test_input(name):
    cfg = gw_config(name)
    preprocessor = cfg.model.data_preprocessor
    if TABLES[name].caffe_input:
        expected = dict(mean=[103.530, 116.280, 123.675], std=[1.0, 1.0, 1.0], bgr_to_rgb=False)
    else:  # INPUT of the yamls (TO_BGR255 False, torchvision's mean/std); see the X-101 BN-frozen header
        expected = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True)
    assert {key: preprocessor[key] for key in expected} == expected and preprocessor.pad_size_divisor == 32
    pipeline = {step.type: step for step in cfg.train_dataloader.dataset.pipeline}
    assert pipeline['Resize'].scale == (1333, 800) and pipeline['Resize'].keep_ratio
    assert pipeline['RandomFlip'].prob == 0.5
    assert cfg.train_dataloader.batch_sampler.type == 'AspectRatioBatchSampler'


def test_biases_get_twice_the_lr_and_no_decay_norm_weights_decay():
    """As maskrcnn-benchmark's make_optimizer: a parameter whose name contains "bias" (GW's and GN's β
    included) at lr 0.04 without weight decay, every other trained one at lr 0.02 with 1e-4; frozen ones
    (frozen BN, stem, stage 1) out of the optimiser."""
    cfg = gw_config('faster-rcnn-4conv1fc_r50_fpn_gw_90k_coco.py')
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
        optimizer = build_optim_wrapper(model, cfg.optim_wrapper).optimizer
    groups = {id(p): group for group in optimizer.param_groups for p in group['params']}
    trained = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert len(groups) == len(trained)
    for name, param in trained:
        group = groups[id(param)]
        expected = (0.04, 0.0) if 'bias' in name else (0.02, 0.0001)
        assert (group['lr'], group['weight_decay']) == pytest.approx(expected), name
    names = {n for n, _ in trained}
    for norm in ('backbone.layer2.0.bn2', 'neck.lateral_convs.0.gn', 'roi_head.bbox_head.shared_convs.0.gw'):
        assert {f'{norm}.weight', f'{norm}.bias'} <= names, norm
    assert not {'backbone.conv1.weight', 'backbone.layer1.0.bn2.weight', 'backbone.layer2.0.bn1.weight'} & names


def assert_kaiming_uniform_a1(weight, bias):
    fan_in = weight[0].numel()
    bound = math.sqrt(3.0 / fan_in)  # kaiming_uniform(a=1): gain 1, U(±sqrt(3 / fan_in))
    assert weight.abs().max().item() <= bound and weight.abs().max().item() > 0.98 * bound
    assert weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)
    assert bias is None or not bias.any()


def test_fpn_convs_and_2fc_head_fcs_start_kaiming_uniform_a1():
    model = gw_config('faster-rcnn-2fc_r50_fpn_bn-frozen_90k_coco.py').model
    neck = MODELS.build(model.neck)
    neck.init_weights()
    convs = [m for m in neck.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 8
    for conv in convs:
        assert_kaiming_uniform_a1(conv.weight, conv.bias)
    head = MODELS.build(model.roi_head.bbox_head)
    head.init_weights()
    for fc in head.shared_fcs:
        assert_kaiming_uniform_a1(fc.weight, fc.bias)
    assert head.fc_cls.weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert head.fc_reg.weight.std().item() == pytest.approx(0.001, rel=0.05)


def test_xconv_head_of_a_config_has_the_authors_sequence_and_init():
    head_cfg = gw_config('mask-rcnn-4conv1fc_x101-32x8d_fpn_gw_180k_coco.py').model.roi_head.bbox_head
    head = MODELS.build(head_cfg)
    head.init_weights()
    *blocks, relu = head.shared_convs
    assert len(blocks) == 4 and type(relu) is nn.ReLU
    assert sum(isinstance(m, nn.ReLU) for m in head.shared_convs.modules()) == 1
    for block in blocks:
        assert not block.with_activation and block.conv.bias is None and type(block.norm) is GroupWhitening
        assert block.conv.weight.std().item() == pytest.approx(0.01, rel=0.02)
    assert_kaiming_uniform_a1(head.shared_fcs[0].weight, head.shared_fcs[0].bias)


def test_built_roi_align_and_anchors():
    model = gw_config('mask-rcnn-4conv1fc_x101-32x8d_fpn_bn-frozen_180k_coco.py').model
    for key, size in (('bbox_roi_extractor', 7), ('mask_roi_extractor', 14)):
        for layer in MODELS.build(model.roi_head[key]).roi_layers:
            assert layer.aligned is False and layer.sampling_ratio == 2 and layer.output_size == (size, size)
    # Detectron's square anchors of the first cell, [-14, -14, 17, 17] on P2 and [-224, -224, 287, 287] on
    # P6 in its x2 - x1 + 1 convention, are these boxes in mmdet's.
    anchors = TASK_UTILS.build(model.rpn_head.anchor_generator)
    square = anchors.ratios.tolist().index(1.0)
    assert anchors.base_anchors[0][square].tolist() == [-14.0, -14.0, 18.0, 18.0]
    assert anchors.base_anchors[4][square].tolist() == [-224.0, -224.0, 288.0, 288.0]


@pytest.mark.parametrize('name', TABLES)
def test_detector_builds(name):
    """On the meta device (no memory, no init): the config's arguments reach every constructor."""
    cfg = gw_config(name)
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert type(model.roi_head.bbox_head).__name__ == TABLES[name].head
    assert model.rpn_head.prior_generator.center_offset == 0.5
    assert type(model.rpn_head.loss_bbox).__name__ == 'SmoothL1Loss' and model.rpn_head.loss_bbox.beta == 1 / 9
    assert model.roi_head.bbox_head.loss_bbox.beta == 1.0
