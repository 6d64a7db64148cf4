"""From configs/pretrain/ to configs/: a classifier checkpoint initialises a detector's backbone through
``init_cfg=dict(type='Pretrained', prefix='backbone.', checkpoint=...)`` with every backbone tensor placed,
and the detector's backbone then computes what the classifier's did.

ResNet-50 and ResNeXt-50 32x4d (the X-101 32x8d detector configs at that size) for every norm type of
configs/: BN, GN, GW (at the GW paper's positions), and BGN, GNPlus, ItN, SWBN at GW's positions.
The last test trains and tests a pretraining config through tools/train.py and tools/test.py and loads the
checkpoint they wrote (slow: two subprocesses).
"""
import logging
import os.path as osp
import re
import sys

import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope

import normdet  # noqa: F401
from normdet.engine import mmengine_checkpoint_globals

from cases import slow_but_first
from config_files import load_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PRETRAIN = osp.join(REPO, 'configs', 'pretrain')
X50 = dict(depth=50, base_width=4)  # the X-101 32x8d detector configs at the size of ResNeXt-50 32x4d
GWPOS_METHODS = ('bgn', 'gnplus', 'itn', 'swbn')


def coco_norm_at_gw_positions(method):
    """stem_norm_cfg/norm2_cfg as the method's COCO configs set them (BGN(32), GNPlus(32), ItN(64), SWBN(64))."""
    backbone = load_config(method, f'faster-rcnn-2fc_r50_fpn_{method}_90k_coco.py').model.backbone
    return dict(stem_norm_cfg=backbone.stem_norm_cfg.to_dict(), norm2_cfg=backbone.norm2_cfg.to_dict())


# (id, pretraining config, detector config, backbone overrides of the detector config; a method name: its norm at
# GW's positions in both). No ResNeXt config of BGN, GNPlus, ItN or SWBN exists: those cases put the method's
# norm at GW's positions of the X-50 BN classifier and of the X-101 GW detector at X-50 size.
CASES = [
    ('resnet50-bn', 'resnet50_bn_8xb32_in1k.py', 'gw/faster-rcnn-2fc_r50_fpn_bn-frozen_90k_coco.py', {}, None),
    # mmdet's ResNet names GN layers gn1, ... (the Detectron GN weights of this config use those names):
    # with the pretraining config's checkpoint the backbone is PositionNormResNet, as the config says.
    ('resnet50-gn', 'resnet50_gn_8xb32_in1k.py', 'gw/faster-rcnn-2fc_r50_fpn_gn_90k_coco.py',
     dict(type='PositionNormResNet'), None),
    ('resnet50-gw', 'resnet50_gw-paper_8xb32_in1k.py', 'gw/faster-rcnn-2fc_r50_fpn_gw_90k_coco.py', {}, None),
    *[(f'resnet50-{method}', f'resnet50_{method}-gwpos_8xb32_in1k.py',
       f'{method}/faster-rcnn-2fc_r50_fpn_{method}_90k_coco.py', {}, None) for method in GWPOS_METHODS],
    ('resnext50-bn', 'resnext50-32x4d_bn_8xb32_in1k.py', 'gw/mask-rcnn-4conv1fc_x101-32x8d_fpn_bn-frozen_180k_coco.py',
     X50, None),
    ('resnext50-gn', 'resnext50-32x4d_gn_8xb32_in1k.py', 'gw/mask-rcnn-4conv1fc_x101-32x8d_fpn_gn_180k_coco.py',
     X50, None),
    ('resnext50-gw', 'resnext50-32x4d_gw-paper_8xb32_in1k.py', 'gw/mask-rcnn-4conv1fc_x101-32x8d_fpn_gw_180k_coco.py',
     X50, None),
    *[(f'resnext50-{method}', 'resnext50-32x4d_bn_8xb32_in1k.py',
       'gw/mask-rcnn-4conv1fc_x101-32x8d_fpn_gw_180k_coco.py', X50, method) for method in GWPOS_METHODS],
]


@pytest.fixture(autouse=True)
def quiet_mmengine():
    # init_weights logs one record per tensor.
    logger = MMLogger.get_instance('mmengine')
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(level)


def trained_classifier(config, backbone_overrides):
    """The pretraining config's ImageClassifier as training leaves it, every tensor of its checkpoint moved
    off its initial value: a training-mode forward updates the running statistics (BN, BGN, GNPlus, ItN)
    and SWBN's whitening matrices, then noise goes on every float tensor (weights, biases, statistics), so
    a tensor the detector did not load cannot equal the classifier's by chance."""
    from mmpretrain.registry import MODELS
    cfg = load_config('pretrain', config)
    for key, value in backbone_overrides.items():
        cfg.model.backbone[key] = value  # replaced, not merged into the config's dict
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        # init_weights is left out (tests/test_configs/test_pretrain_configs.py runs it): noise follows.
        model = MODELS.build(dict(cfg.model, data_preprocessor=cfg.data_preprocessor))
    model.train()
    with torch.no_grad():
        model.extract_feat(torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(torch.rand_like(tensor) * 1e-2)
    return model


def detector_backbone(config, overrides, checkpoint):
    """The detector config's backbone, initialised from ``checkpoint`` as the runner does it
    (init_weights; NormDetRunner also allow-lists the globals mmengine writes into its checkpoints)."""
    from mmdet.registry import MODELS
    cfg = load_config(config).model.backbone
    for key, value in overrides.items():
        cfg[key] = value
    cfg.init_cfg = dict(type='Pretrained', prefix='backbone.', checkpoint=checkpoint)
    with DefaultScope.overwrite_default_scope('mmdet'):
        backbone = MODELS.build(cfg)
        with mmengine_checkpoint_globals():
            backbone.init_weights()
    return backbone


def assert_backbone_carried_over(classifier, backbone):
    expected = {key[len('backbone.'):]: value for key, value in classifier.state_dict().items()
                if key.startswith('backbone.')}
    placed = backbone.state_dict()
    assert sorted(placed) == sorted(expected)  # nothing missing, nothing unexpected
    different = [key for key in expected if not torch.equal(placed[key], expected[key])]
    assert not different, f'not loaded: {different}'
    classifier.eval()
    backbone.eval()
    images = torch.randn(2, 3, 48, 48, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(backbone(images)[-1], classifier.backbone(images)[-1])


@pytest.mark.parametrize('pretrain_config, detector_config, detector_overrides, gwpos_method',
                         slow_but_first([case[1:] for case in CASES], ids=[case[0] for case in CASES]))
def test_classifier_checkpoint_initialises_detector_backbone(tmp_path, pretrain_config, detector_config,
                                                             detector_overrides, gwpos_method):
    norms = coco_norm_at_gw_positions(gwpos_method) if gwpos_method else {}
    classifier = trained_classifier(pretrain_config, norms)
    checkpoint = str(tmp_path / 'classifier.pth')
    torch.save(dict(meta=dict(epoch=1), state_dict=classifier.state_dict()), checkpoint)  # mmengine's layout
    backbone = detector_backbone(detector_config, dict(detector_overrides, **norms), checkpoint)
    assert_backbone_carried_over(classifier, backbone)


TINY_PRETRAIN = """_base_ = {base!r}
data_root = {data_root!r}
train_pipeline = [dict(type='LoadImageFromFile'), dict(type='RandomResizedCrop', scale=32),
                  dict(type='RandomFlip', prob=0.5, direction='horizontal'), dict(type='PackInputs')]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='ResizeEdge', scale=36, edge='short'),
                 dict(type='CenterCrop', crop_size=32), dict(type='PackInputs')]
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, dataset=dict(
    _delete_=True, type='CustomDataset', data_root=data_root, data_prefix='train', pipeline=train_pipeline))
val_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, dataset=dict(
    _delete_=True, type='CustomDataset', data_root=data_root, data_prefix='val', pipeline=test_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=1)
default_hooks = dict(logger=dict(interval=1))
# The folder's 2 classes (the painted labels index the dataset's class names).
model = dict(head=dict(num_classes=2))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
"""


@pytest.mark.slow
def test_tools_train_and_test_a_pretraining_config_and_a_detector_loads_it(tmp_path):
    """tools/train.py and tools/test.py on an mmpretrain config (default_scope 'mmpretrain', kept by the
    runner) with ImageNet replaced by a folder of 8 tiny images; the written checkpoint starts the GW
    Faster R-CNN's backbone."""
    import cv2
    import numpy as np
    from tool_runs import run_tool

    rng = np.random.default_rng(0)
    for split in ('train', 'val'):
        for label in ('a', 'b'):
            (tmp_path / 'data' / split / label).mkdir(parents=True)
            for index in range(2):
                cv2.imwrite(str(tmp_path / 'data' / split / label / f'{index}.png'),
                            rng.integers(0, 256, (40, 40, 3), dtype=np.uint8))
    config = tmp_path / 'tiny_gw_in1k.py'
    config.write_text(TINY_PRETRAIN.format(base=osp.join(PRETRAIN, 'resnet50_gw-paper_8xb32_in1k.py'),
                                           data_root=str(tmp_path / 'data')))
    work_dir = tmp_path / 'work'
    train = run_tool([sys.executable, osp.join(REPO, 'tools', 'train.py'), str(config), '--work-dir', str(work_dir),
                      '--auto-scale-lr'], cwd=str(tmp_path))
    assert re.search(r'Epoch\(val\) \[1\]\[2/2\].*accuracy/top1: [\d.]+', train.stdout)
    checkpoint = str(work_dir / 'epoch_1.pth')
    # mmpretrain's flags on a classification config: painted images, then flip TTA with dumped predictions.
    test = run_tool([sys.executable, osp.join(REPO, 'tools', 'test.py'), str(config), checkpoint,
                     '--work-dir', str(tmp_path / 'test'), '--show-dir', 'painted'], cwd=str(tmp_path))
    assert re.search(r'Epoch\(test\) \[2/2\].*accuracy/top1: [\d.]+', test.stdout)
    # mmpretrain writes them where --show-dir says (mmdet: under the work dir), named after the image file.
    painted = list((tmp_path / 'painted').glob('*.png'))
    assert painted and all(cv2.imread(str(path)) is not None for path in painted)
    out = tmp_path / 'predictions.pkl'
    tta = run_tool([sys.executable, osp.join(REPO, 'tools', 'test.py'), str(config), checkpoint, '--work-dir',
                    str(tmp_path / 'tta'), '--tta', '--out', str(out)], cwd=str(tmp_path))
    assert re.search(r'Epoch\(test\) \[2/2\].*accuracy/top1: [\d.]+', tta.stdout)
    import pickle
    with open(out, 'rb') as f:
        predictions = pickle.load(f)
    assert len(predictions) == 4 and all('pred_score' in p for p in predictions)

    with mmengine_checkpoint_globals():
        state_dict = torch.load(checkpoint, map_location='cpu')['state_dict']
    backbone = detector_backbone('gw/faster-rcnn-2fc_r50_fpn_gw_90k_coco.py', {}, checkpoint)
    expected = {key[len('backbone.'):]: value for key, value in state_dict.items() if key.startswith('backbone.')}
    placed = backbone.state_dict()
    assert sorted(placed) == sorted(expected)
    assert all(torch.equal(placed[key], expected[key]) for key in expected)
