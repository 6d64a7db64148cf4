"""configs/pretrain/: every ImageNet config parses, builds its mmpretrain ImageClassifier with normdet's
backbone and norms where the header says, trains on a hand-made batch of tiny random images and reports
top-1 in a test-mode pass; every COCO config names the pretraining config whose checkpoint fits its
backbone."""
import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

import normdet  # noqa: F401  (registers the norms and backbones, in mmpretrain's registry too)
from cases import slow_but_first
from config_files import load_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PRETRAIN_CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'pretrain', '*.py')))
# The fast suite trains the smallest one.
TRAINED_FIRST = sorted(PRETRAIN_CONFIGS, key=lambda path: osp.basename(path) != 'resnet50_bn_8xb32_in1k.py')
COCO_CONFIGS = sorted(
    path for method in ('gw', 'bgn', 'gnplus', 'itn', 'swbn')
    for path in glob.glob(osp.join(REPO, 'configs', method, '*.py')))

# Norm classes by position, as each config's header describes them.
BN, GN, GW = 'BatchNorm2d', 'GroupNorm', 'GroupWhitening'
GWPOS = {'bgn': 'BatchGroupNorm', 'gnplus': 'GroupNormPlus', 'itn': 'IterNorm', 'swbn': 'StochasticWhiteningBN'}


def expected_norms(name):
    """(stem, norm1, norm2, norm3, shortcut) norm classes that config file ``name`` promises."""
    norm = name.split('_')[1]
    if norm == 'bn':
        return (BN, ) * 5
    if norm == 'gn':
        return (GN, ) * 5
    if norm == 'bgn':  # the BGN paper's placement: every position
        return ('BatchGroupNorm', ) * 5
    if norm == 'gw-paper':
        return (GW, BN, GW, BN, BN)
    layer = GWPOS[norm.split('-')[0]]
    return (layer, BN, layer, BN, BN)


def build_classifier(cfg):
    from mmpretrain.registry import MODELS
    model_cfg = cfg.model.copy()
    model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)  # what mmengine's Runner does
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model


def tiny_batch(num_images, size=32, num_classes=1000, seed=0):
    """A batch as mmpretrain's ``PackInputs`` and ``pseudo_collate`` give it: uint8 BGR images, labels."""
    from mmpretrain.structures import DataSample
    generator = torch.Generator().manual_seed(seed)
    images = [torch.randint(0, 256, (3, size, size), generator=generator, dtype=torch.uint8)
              for _ in range(num_images)]
    labels = torch.randint(0, num_classes, (num_images, ), generator=generator)
    return dict(inputs=images, data_samples=[DataSample().set_gt_label(int(label)) for label in labels])


def test_every_pretrain_config_found():
    names = {osp.basename(path) for path in PRETRAIN_CONFIGS}
    for arch in ('resnet50', 'resnet101', 'resnext50-32x4d', 'resnext101-32x8d'):
        for norm in ('bn', 'gw-paper', 'gn'):
            assert f'{arch}_{norm}_8xb32_in1k.py' in names
    for norm in ('bgn', 'gnplus', 'itn', 'swbn'):
        assert f'resnet50_{norm}-gwpos_8xb32_in1k.py' in names
    assert {'resnet50_bn_8xb2_in1k.py', 'resnet50_bgn_8xb2_in1k.py'} <= names


@pytest.mark.parametrize('path', slow_but_first(TRAINED_FIRST, ids=osp.basename))
def test_pretrain_config_builds_trains_and_reports_top1(path):
    name = osp.basename(path)
    cfg = load_config(path)
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.randomness.seed == 1
    # The authors' protocol: SGD momentum 0.9, wd 1e-4, lr x0.1 at 30/60/90 of 100 epochs, lr 0.1 at 256
    # images per step (linearly scaled for 8xb2).
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.momentum, optimizer.weight_decay) == ('SGD', 0.9, 1e-4)
    images_per_step = 8 * cfg.train_dataloader.batch_size
    assert optimizer.lr == pytest.approx(0.1 * images_per_step / 256)
    assert cfg.auto_scale_lr.base_batch_size == images_per_step
    assert cfg.train_cfg.max_epochs == 100
    assert (cfg.param_scheduler.type, cfg.param_scheduler.milestones, cfg.param_scheduler.gamma) == \
        ('MultiStepLR', [30, 60, 90], 0.1)

    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = build_classifier(cfg)
        backbone = model.backbone
        arch, depth = re.match(r'(resnext|resnet)(\d+)', name).groups()
        assert type(backbone).__name__ == {'resnet': 'PositionNormResNet', 'resnext': 'PositionNormResNeXt'}[arch]
        assert backbone.depth == int(depth)
        block = backbone.layer1[0]
        found = tuple(type(m).__name__ for m in (backbone.bn1, block.bn1, block.bn2, block.bn3, block.downsample[1]))
        assert found == expected_norms(name)

        # The config's optimiser at the lr --auto-scale-lr gives 2 images per step (lr 0.1 on 2 images
        # diverges within two steps).
        optim_cfg = cfg.optim_wrapper.copy()
        optim_cfg.optimizer.lr *= 2 / cfg.auto_scale_lr.base_batch_size
        optim_wrapper = build_optim_wrapper(model, optim_cfg)
        before = backbone.conv1.weight.detach().clone()
        model.train()
        # Every norm trains with batch statistics (mmdet's ResNet defaults to norm_eval=True).
        assert all(m.training for m in backbone.modules())
        for step in range(2):
            log_vars = model.train_step(tiny_batch(2, seed=step), optim_wrapper)
            assert torch.isfinite(log_vars['loss'])
        assert not torch.equal(before, backbone.conv1.weight)

        # Test mode on a tiny "dataset" of 4 samples through the config's own evaluator (Accuracy).
        model.eval()
        evaluator = Evaluator(cfg.val_evaluator)
        data = tiny_batch(4, seed=10)
        with torch.no_grad():
            outputs = model.val_step(data)
        evaluator.process(outputs, data)
        metrics = evaluator.evaluate(len(outputs))
    assert 0 <= metrics['accuracy/top1'] <= 100 and metrics['accuracy/top1'] <= metrics['accuracy/top5']


def backbone_tensor_shapes(backbone_cfg, scope):
    """{state-dict key: shape} of the backbone ``backbone_cfg`` builds, built on the meta device (no
    memory, no initialisation: an X-101 32x8d in a fraction of a second)."""
    from mmdet.registry import MODELS as MMDET_MODELS
    from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
    registry = dict(mmdet=MMDET_MODELS, mmpretrain=MMPRETRAIN_MODELS)[scope]
    with DefaultScope.overwrite_default_scope(scope), torch.device('meta'):
        backbone = registry.build(backbone_cfg)
    return {key: tuple(value.shape) for key, value in backbone.state_dict().items()}


@pytest.mark.parametrize('path', COCO_CONFIGS, ids=lambda path: osp.relpath(path, osp.join(REPO, 'configs')))
def test_coco_config_names_the_pretraining_config_of_its_backbone(path, tmp_path, monkeypatch):
    """The checkpoint of ``pretrain_config`` fits the backbone tensor for tensor; where the backbone's
    weights are a local file, the missing-file message gives the command that makes them."""
    from normdet.models import check_local_pretrained
    cfg = load_config(path)
    pretrain_path = osp.join(REPO, cfg.pretrain_config)
    assert osp.isfile(pretrain_path), cfg.pretrain_config
    backbone = cfg.model.backbone
    init_cfg = backbone.pop('init_cfg')
    if backbone.type == 'ResNet' and backbone.norm_cfg.type == 'GN':
        # mmdet's ResNet calls GN layers gn1, ...: the config says to switch to PositionNormResNet.
        backbone.type = 'PositionNormResNet'
    classifier_backbone = load_config(pretrain_path).model.backbone
    assert backbone_tensor_shapes(backbone, 'mmdet') == backbone_tensor_shapes(classifier_backbone, 'mmpretrain')

    if '://' in init_cfg.checkpoint:
        return  # downloaded by mmengine
    monkeypatch.chdir(tmp_path)  # no checkpoints/ here
    with pytest.raises(FileNotFoundError) as error:
        check_local_pretrained(init_cfg, backbone.checkpoint_hint)
    for command in (f'tools/dist_train.sh {cfg.pretrain_config} 8', f'python tools/train.py {cfg.pretrain_config}',
                    'model.backbone.init_cfg.prefix=backbone.'):
        assert command in str(error.value)
