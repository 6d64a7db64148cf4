"""Every config under configs/ parses, names normdet in custom_imports, and builds its model (no weights);
the paper configs place each norm as their references; the shapes configs take classes and data from
ShapesDataset."""
import re
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmengine.registry import init_default_scope

import normdet  # noqa: F401
from normdet.datasets import SHAPES_CLASSES
from normdet.layers import NORM_LAYERS, NORM_TYPES
from config_files import load_config

CONFIG_DIR = Path(__file__).resolve().parents[2] / 'configs'
CONFIGS = sorted(p for p in CONFIG_DIR.rglob('*.py') if '_base_' not in p.parts)
PAPER_CONFIG_DIRS = ('gw', 'bgn', 'gnplus', 'itn', 'swbn')
SHAPES_CONFIGS = sorted((CONFIG_DIR / 'demo').glob('*.py')) + [
    CONFIG_DIR.parent / 'tests' / 'data' / 'configs' / 'mask-rcnn_r18-w16_fpn_gn_2it_shapes128.py']


def config_id(path):
    return str(path.relative_to(CONFIG_DIR))


@pytest.fixture(scope='module', autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')


@pytest.mark.parametrize('path', CONFIGS, ids=config_id)
def test_config_parses_and_model_builds(path):
    cfg = load_config(path)
    assert 'normdet' in cfg.custom_imports['imports'] and cfg.custom_imports['allow_failed_imports'] is False
    # On the meta device: every constructor runs with the config's arguments, no memory is allocated and
    # no weights are initialised (an X-101 detector in a fraction of a second); init_weights is not called.
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0


def norms_by_kind(model):
    kinds = {}
    for name, m in model.named_modules():
        if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm) + NORM_LAYERS):
            kinds.setdefault(type(m).__name__, []).append(name)
    return kinds


def paper_config(name):
    cfg = load_config(name)
    return cfg, MODELS.build(cfg.model)


def test_every_paper_config_states_its_reference_in_a_header():
    for path in CONFIGS:
        if path.parent.name not in PAPER_CONFIG_DIRS:
            continue
        header = path.read_text().split('_base_')[0]
        assert header.startswith('#') and re.search(r'arXiv|ECCV', header), path
        assert re.search(r'\d\d\.\d', header), f'{path}: no reference number in the header'


def test_gw_table2_4conv1fc_places_every_norm_as_the_authors():
    cfg, model = paper_config('gw/faster-rcnn-4conv1fc_r50_fpn_gw_90k_coco.py')
    kinds = norms_by_kind(model)
    gw = set(kinds['GroupWhitening'])
    expected_backbone = {'backbone.bn1'} | {n for n in kinds['GroupWhitening'] if re.fullmatch(
        r'backbone\.layer\d\.\d+\.bn2', n)}
    assert len(expected_backbone) == 1 + 16
    head = {f'roi_head.bbox_head.shared_convs.{i}.gw' for i in range(4)}
    assert gw == expected_backbone | head, sorted(gw)
    assert all(n.startswith('neck.') for n in kinds['GroupNorm']) and len(kinds['GroupNorm']) == 8
    bns = kinds['BatchNorm2d']
    assert all(not p.requires_grad for n in bns for p in model.get_submodule(n).parameters())
    assert all(model.get_submodule(f'roi_head.bbox_head.shared_convs.{i}.conv').bias is None for i in range(4))
    assert cfg.train_cfg == dict(type='IterBasedTrainLoop', max_iters=90000, val_interval=90000)
    assert cfg.param_scheduler[0]['start_factor'] == pytest.approx(1 / 3) and cfg.param_scheduler[0]['end'] == 500
    assert cfg.param_scheduler[1]['milestones'] == [60000, 80000]
    assert cfg.optim_wrapper.optimizer.lr == 0.02 and cfg.train_dataloader.batch_size == 2


def test_gw_table2_2fc_has_gw_only_in_the_backbone():
    _, model = paper_config('gw/faster-rcnn-2fc_r50_fpn_gw_90k_coco.py')
    kinds = norms_by_kind(model)
    assert len(kinds['GroupWhitening']) == 17 and all(n.startswith('backbone.') for n in kinds['GroupWhitening'])
    assert 'GroupNorm' not in kinds


def test_gw_table3_mask_rcnn_x101():
    cfg, model = paper_config('gw/mask-rcnn-4conv1fc_x101-32x8d_fpn_gw_180k_coco.py')
    gw = norms_by_kind(model)['GroupWhitening']
    assert sum(n.startswith('backbone.') for n in gw) == 1 + 33
    assert sum(n.startswith('neck.') for n in gw) == 8
    assert sum(n.startswith('roi_head.bbox_head.') for n in gw) == 4
    assert sum(n.startswith('roi_head.mask_head.') for n in gw) == 4
    assert model.backbone.layer1[0].conv2.groups == 32 and model.backbone.layer1[0].conv2.out_channels == 256
    assert cfg.train_dataloader.batch_size == 1 and cfg.optim_wrapper.optimizer.lr == 0.01
    assert cfg.train_cfg.max_iters == 180000 and cfg.param_scheduler[1]['milestones'] == [120000, 160000]


@pytest.mark.parametrize('method, cls_name, arg', [
    ('bgn', 'BatchGroupNorm', ('num_groups', 32)),
    ('gnplus', 'GroupNormPlus', ('num_groups', 32)),
    ('itn', 'IterNorm', ('num_channels', 64)),
    ('swbn', 'StochasticWhiteningBN', ('num_channels', 64)),
])
def test_gn_protocol_with_each_norm_in_place_of_gn(method, cls_name, arg):
    cfg, model = paper_config(f'{method}/mask-rcnn_r50_fpn_{method}-gwpos-neck-head_2x_coco.py')
    kinds = norms_by_kind(model)
    assert 'GroupNorm' not in kinds and 'GroupWhitening' not in kinds  # nothing of GN/GW leaked
    placed = kinds[cls_name]
    assert len(placed) == 17 + 8 + 4 + 4
    for key in ('stem_norm_cfg', 'norm2_cfg'):
        assert dict(cfg.model.backbone[key]) == dict(type=cfg.model.neck.norm_cfg['type'], **{arg[0]: arg[1]})
    for name in ('neck', 'roi_head.bbox_head', 'roi_head.mask_head'):
        norm_cfg = cfg.model.neck.norm_cfg if name == 'neck' else cfg.model.roi_head[name.split('.')[1]].norm_cfg
        assert dict(norm_cfg) == dict(cfg.model.backbone.norm2_cfg)
    assert cfg.train_cfg.max_epochs == 24
    # The plugin norms learn their statistics; the frozen BN positions stay frozen.
    model.train()
    assert all(model.get_submodule(n).training for n in placed)
    assert not model.backbone.layer2[0].bn1.training and not model.backbone.layer2[0].downsample[1].training


def test_missing_gw_weights_fail_with_the_recipe(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no checkpoints/ here
    for name, file in [('gw/faster-rcnn-2fc_r50_fpn_gw_90k_coco.py', 'gw_resnet50_imagenet_converted.pth'),
                       ('gw/mask-rcnn-4conv1fc_x101-32x8d_fpn_gw_180k_coco.py',
                        'gw_resnext101_32x8d_imagenet_converted.pth'),
                       ('gw/mask-rcnn-4conv1fc_x101-32x8d_fpn_gn_180k_coco.py', 'gn_resnext101_32x8d_imagenet.pth')]:
        _, model = paper_config(name)
        with pytest.raises(FileNotFoundError, match=re.escape(file) + '.*(gw2normdet|Train one)'):
            model.init_weights()


@pytest.mark.parametrize('path', SHAPES_CONFIGS, ids=lambda path: path.name)
def test_shapes_configs_take_classes_and_data_from_shapes_dataset(path):
    """No config names the classes (ShapesDataset.METAINFO does); every dataset generates what the
    top-level data_root and shapes_cfg say, and the metric reads that val split."""
    cfg = load_config(path)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[loader].dataset
        assert dataset.type == 'ShapesDataset' and 'metainfo' not in dataset, loader
        assert dataset.data_root == cfg.data_root and dataset.shapes_cfg == cfg.shapes_cfg, loader
    assert cfg.train_dataloader.dataset.ann_file == 'annotations/instances_train.json'
    assert cfg.val_dataloader.dataset.ann_file == 'annotations/instances_val.json'
    for evaluator in ('val_evaluator', 'test_evaluator'):
        assert cfg[evaluator].ann_file == cfg.data_root + 'annotations/instances_val.json'
    heads = cfg.model.roi_head
    assert heads.bbox_head.num_classes == heads.mask_head.num_classes == len(SHAPES_CLASSES)


@pytest.mark.parametrize('path', sorted((CONFIG_DIR / 'demo').glob('*.py')), ids=lambda path: path.name)
def test_demo_loop_keeps_default_sampler_batches_without_restarts(path):
    """The iteration-based demo samples DefaultSampler's epochs without restarting the dataloader; the
    batches stay DefaultSampler's because an epoch fills whole batches (every generated image holds
    objects, so filter_empty_gt keeps all of them)."""
    cfg = load_config(path)
    assert cfg.train_cfg.type == 'IterBasedTrainLoop'
    assert cfg.train_dataloader.sampler == dict(type='EpochSeededInfiniteSampler', shuffle=True)
    assert cfg.shapes_cfg.num_train % cfg.train_dataloader.batch_size == 0


@pytest.mark.parametrize('path', [p for p in CONFIGS if p.parent.name in ('bgn', 'gnplus', 'itn', 'swbn')],
                         ids=config_id)
def test_batch_statistics_norms_sit_at_gw_positions_of_torchvision_resnet50(path):
    cfg = load_config(path)
    backbone = cfg.model.backbone
    norm_type = {name.lower(): name for name in NORM_TYPES}[path.parent.name]
    assert backbone.type == 'PositionNormResNet' and backbone.depth == 50
    assert backbone.norm_cfg == dict(type='BN', requires_grad=False)
    assert backbone.stem_norm_cfg == backbone.norm2_cfg and backbone.norm2_cfg['type'] == norm_type
    assert not {'norm1_cfg', 'norm3_cfg', 'downsample_norm_cfg'} & set(backbone)
    assert backbone.norm_eval and tuple(backbone.norm_eval_positions) == ('norm1', 'norm3', 'downsample')
    assert backbone.frozen_stages == -1 and backbone.checkpoint_hint is None
    assert backbone.init_cfg == dict(type='Pretrained', checkpoint='torchvision://resnet50')
