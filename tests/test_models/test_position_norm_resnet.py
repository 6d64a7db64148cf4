"""PositionNormResNet / PositionNormResNeXt: placement, names, checkpoint loading, norm_eval, frozen_stages."""
import pytest
import torch
import torch.nn as nn
from mmdet.models.backbones import ResNet, ResNeXt
from torch.nn.modules.batchnorm import _BatchNorm

import normdet  # noqa: F401  (registers the norm types and backbones)
from normdet.layers import BatchGroupNorm, GroupWhitening, IterNorm
from normdet.models import PositionNormResNet, PositionNormResNeXt, check_local_pretrained

FROZEN_BN = dict(type='BN', requires_grad=False)
GW = dict(type='GW', num_groups=64)


def gw_placement(norm_type='GW', **kwargs):
    """The GW paper's backbone: `norm_type` after the stem conv and each 3x3 conv, frozen BN elsewhere."""
    cfg = GW if norm_type == 'GW' else dict(type='GN', num_groups=32)
    return dict(norm_cfg=FROZEN_BN, stem_norm_cfg=cfg, norm2_cfg=cfg, **kwargs)


def blocks(backbone):
    return [block for name in backbone.res_layers for block in getattr(backbone, name)]


def norm_prefixes(backbone, positions):
    """State-dict prefixes ('bn1.', 'layer1.0.bn2.', ...) of the given positions: 'stem', 1, 2, 3, 'down'."""
    prefixes = ['bn1.'] if 'stem' in positions else []
    for stage in range(1, 5):
        for index, block in enumerate(getattr(backbone, f'layer{stage}')):
            prefixes += [f'layer{stage}.{index}.bn{p}.' for p in (1, 2, 3) if p in positions]
            if 'down' in positions and block.downsample is not None:
                prefixes.append(f'layer{stage}.{index}.downsample.1.')
    return prefixes


@pytest.mark.parametrize('norm_type, cls', [('GN', nn.GroupNorm), ('GW', GroupWhitening)])
def test_gw_placement_puts_each_norm_in_its_position(norm_type, cls):
    backbone = PositionNormResNet(depth=50, **gw_placement(norm_type))
    assert isinstance(backbone.bn1, cls) and backbone.norm1 is backbone.bn1
    for block in blocks(backbone):
        assert isinstance(block.bn2, cls) and block.norm2 is block.bn2
        assert type(block.bn1) is nn.BatchNorm2d and type(block.bn3) is nn.BatchNorm2d
        channels = block.bn2.num_features if cls is GroupWhitening else block.bn2.num_channels
        assert channels == block.conv2.out_channels
        if block.downsample is not None:
            assert type(block.downsample[1]) is nn.BatchNorm2d
        for bn in (block.bn1, block.bn3):
            assert not any(p.requires_grad for p in bn.parameters())
    # GW with 64 groups: 1/2/4/8 channels per group by stage, as the references say for ResNet-50.
    if cls is GroupWhitening:
        assert [backbone.layer1[0].bn2.num_groups, backbone.layer4[0].bn2.num_features] == [64, 512]


def test_every_position_takes_its_own_config():
    backbone = PositionNormResNet(
        depth=50, norm_cfg=dict(type='BN'), stem_norm_cfg=dict(type='GN', num_groups=8),
        norm1_cfg=dict(type='BGN', num_groups=16), norm2_cfg=GW, norm3_cfg=dict(type='ItN', num_channels=16),
        downsample_norm_cfg=dict(type='GN', num_groups=4))
    assert backbone.bn1.num_groups == 8
    for block in blocks(backbone):
        assert isinstance(block.bn1, BatchGroupNorm) and block.bn1.num_features == block.conv1.out_channels
        assert isinstance(block.bn2, GroupWhitening) and block.bn2.num_features == block.conv2.out_channels
        assert isinstance(block.bn3, IterNorm) and block.bn3.num_features == block.conv3.out_channels
        if block.downsample is not None:
            assert isinstance(block.downsample[1], nn.GroupNorm) and block.downsample[1].num_groups == 4


def test_unset_positions_fall_back_to_norm_cfg():
    backbone = PositionNormResNet(depth=50, norm_cfg=dict(type='GN', num_groups=32))
    norms = [backbone.bn1] + [n for b in blocks(backbone) for n in (b.bn1, b.bn2, b.bn3)]
    assert all(type(n) is nn.GroupNorm and n.num_groups == 32 for n in norms)


@pytest.mark.parametrize('kwargs', [
    dict(depth=50),
    dict(depth=18),
    dict(depth=50, deep_stem=True, avg_down=True),
    dict(depth=101, groups=32, base_width=8),
])
def test_names_are_mmdet_bn_resnet_names_whatever_the_norm(kwargs):
    resnext = 'groups' in kwargs
    ours_cls = PositionNormResNeXt if resnext else PositionNormResNet
    with torch.device('meta'):  # names only: no memory, no initialisation
        reference = (ResNeXt if resnext else ResNet)(**kwargs)
        bn_everywhere = ours_cls(**kwargs)
        gn_everywhere = ours_cls(norm_cfg=dict(type='GN', num_groups=16), **kwargs)
        gw_placed = ours_cls(**gw_placement(), **kwargs)
    assert list(bn_everywhere.state_dict()) == list(reference.state_dict())
    assert [n for n, _ in bn_everywhere.named_modules()] == [n for n, _ in reference.named_modules()]
    for model in (gn_everywhere, gw_placed):
        # GN and GW hold weight/bias only: the parameter names (and order) are BN's.
        assert [n for n, _ in model.named_parameters()] == [n for n, _ in reference.named_parameters()]
        assert [n for n, _ in model.named_modules()] == [n for n, _ in reference.named_modules()]


def test_mmdet_bn_resnet50_state_dict_loads_into_the_gw_backbone():
    torch.manual_seed(0)
    plain = ResNet(depth=50)
    for name, tensor in plain.state_dict().items():  # distinct values, so a misplaced key would show
        if tensor.is_floating_point():
            tensor.copy_(torch.randn_like(tensor))
    source = plain.state_dict()
    backbone = PositionNormResNet(depth=50, **gw_placement())
    result = backbone.load_state_dict(source, strict=False)

    gw_prefixes = norm_prefixes(backbone, {'stem', 2})
    assert len(gw_prefixes) == 1 + 16
    # Nothing of the GW backbone is missing: GW's weight/bias take BN's affine at those positions.
    assert result.missing_keys == []
    # What is left over is exactly BN's running statistics at the GW positions.
    assert sorted(result.unexpected_keys) == sorted(
        p + b for p in gw_prefixes for b in ('running_mean', 'running_var', 'num_batches_tracked'))
    loaded = backbone.state_dict()
    assert set(loaded) == set(source) - set(result.unexpected_keys)
    for key, value in loaded.items():
        assert torch.equal(value, source[key]), key


def test_bn_everywhere_computes_what_mmdet_resnet_computes():
    torch.manual_seed(0)
    reference = ResNet(depth=50)
    reference.eval()  # mmdet's train() returns None
    for m in reference.modules():
        if isinstance(m, _BatchNorm):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
    ours = PositionNormResNet(depth=50).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(ours(x), reference(x)):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize('backbone_cls, kwargs', [
    (PositionNormResNet, dict(depth=50)),
    pytest.param(PositionNormResNeXt, dict(depth=101, groups=32, base_width=8), marks=pytest.mark.slow),
    (PositionNormResNet, dict(depth=18)),
    (PositionNormResNeXt, dict(depth=50, groups=32, base_width=4)),
])
def test_forward_shapes(backbone_cls, kwargs):
    torch.manual_seed(0)
    backbone = backbone_cls(**gw_placement(), **kwargs)
    backbone.init_weights()
    backbone.train()
    expansion = 1 if kwargs['depth'] == 18 else 4
    outs = backbone(torch.randn(2, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [
        (2, 64 * expansion * 2**i, 64 // 2**(i + 2), 96 // 2**(i + 2)) for i in range(4)]
    assert all(torch.isfinite(o).all() for o in outs)
    sum(o.mean() for o in outs).backward()
    assert backbone.layer4[-1].bn2.weight.grad is not None


def test_norm_eval_freezes_running_stats_of_plugin_norms_too():
    backbone = PositionNormResNet(depth=50, norm_cfg=dict(type='BN'), stem_norm_cfg=GW,
                                  norm2_cfg=dict(type='BGN', num_groups=16), norm_eval=True)
    backbone.train()
    bgn = backbone.layer2[1].bn2
    assert isinstance(bgn, BatchGroupNorm) and not bgn.training
    assert not backbone.layer2[1].bn1.training  # torch BN, as in mmdet
    assert backbone.bn1.training  # GW has no running statistics: nothing to freeze
    before = bgn.running_mean.clone()
    backbone(torch.randn(2, 3, 64, 64))
    assert torch.equal(bgn.running_mean, before)

    backbone.norm_eval = False
    backbone.train()
    assert bgn.training and backbone.layer2[1].bn1.training
    backbone(torch.randn(2, 3, 64, 64))
    assert not torch.equal(bgn.running_mean, before)


def test_frozen_stages_freeze_plugin_norms():
    backbone = PositionNormResNet(depth=50, norm_cfg=dict(type='BN'), stem_norm_cfg=GW,
                                  norm2_cfg=dict(type='BGN', num_groups=16), frozen_stages=1, norm_eval=False)
    backbone.train()
    for module in (backbone.conv1, backbone.bn1, backbone.layer1):
        assert not any(p.requires_grad for p in module.parameters())
    for module in (backbone.bn1, backbone.layer1):
        assert not any(m.training for m in module.modules())
    assert isinstance(backbone.bn1, GroupWhitening)
    for module in (backbone.layer2, backbone.layer3, backbone.layer4):
        assert all(p.requires_grad for p in module.parameters())
        assert all(m.training for m in module.modules())


def test_zero_init_residual_zeroes_the_last_norm_of_every_block():
    backbone = PositionNormResNet(depth=18, norm_cfg=dict(type='BN'), norm2_cfg=GW)
    backbone.init_weights()
    assert all(torch.count_nonzero(b.bn2.weight) == 0 for b in blocks(backbone))
    assert all(torch.all(b.bn1.weight == 1) for b in blocks(backbone))
    backbone = PositionNormResNeXt(depth=50, groups=32, base_width=4, **gw_placement())
    backbone.init_weights()
    assert all(torch.count_nonzero(b.bn3.weight) == 0 for b in blocks(backbone))


def test_missing_local_checkpoint_fails_with_the_recipe(tmp_path):
    missing = str(tmp_path / 'gw_resnet50_imagenet_converted.pth')
    backbone = PositionNormResNet(depth=50, **gw_placement(),
                                  init_cfg=dict(type='Pretrained', checkpoint=missing),
                                  checkpoint_hint='Make it with tools/model_converters/gw2normdet.py')
    with pytest.raises(FileNotFoundError, match='gw_resnet50_imagenet_converted.pth.*gw2normdet'):
        backbone.init_weights()
    # URLs are mmengine's business; a local file that exists passes.
    check_local_pretrained(dict(type='Pretrained', checkpoint='torchvision://resnet50'))
    check_local_pretrained([dict(type='Kaiming', layer='Conv2d')])
    present = tmp_path / 'present.pth'
    present.write_bytes(b'')
    check_local_pretrained(dict(type='Pretrained', checkpoint=str(present)))


def test_converted_style_checkpoint_loads_through_init_cfg(tmp_path):
    source = PositionNormResNet(depth=50, **gw_placement())
    with torch.no_grad():
        for p in source.parameters():
            p.copy_(torch.randn_like(p))
    path = tmp_path / 'gw.pth'
    torch.save({'state_dict': source.state_dict()}, path)
    backbone = PositionNormResNet(depth=50, **gw_placement(), init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    backbone.init_weights()
    for key, value in backbone.state_dict().items():
        assert torch.equal(value, source.state_dict()[key]), key


def test_norm_eval_positions_limit_which_running_stats_freeze():
    backbone = PositionNormResNet(depth=50, norm_cfg=FROZEN_BN, stem_norm_cfg=dict(type='BGN', num_groups=16),
                                  norm2_cfg=dict(type='BGN', num_groups=16), norm_eval=True,
                                  norm_eval_positions=('norm1', 'norm3', 'downsample'))
    backbone.train()
    assert backbone.bn1.training
    for block in blocks(backbone):
        assert isinstance(block.bn2, BatchGroupNorm) and block.bn2.training
        assert not block.bn1.training and not block.bn3.training
        assert block.downsample is None or not block.downsample[1].training
    # A torch BN outside the listed positions keeps training too (mmdet would freeze every BatchNorm).
    backbone = PositionNormResNet(depth=18, norm_eval=True, norm_eval_positions=('stem', 'norm1'))
    backbone.train()
    assert not backbone.bn1.training
    assert all(not b.bn1.training and b.bn2.training for b in blocks(backbone))
    assert all(b.downsample is None or b.downsample[1].training for b in blocks(backbone))
    with pytest.raises(ValueError, match='bn2'):
        PositionNormResNet(depth=18, norm_eval_positions=('bn2', ))
