"""tools/model_converters/gw2normdet.py and normdet.models.utils.gw_checkpoint on synthetic checkpoints laid
out as the GW authors' published models."""
import argparse
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.registry import init_default_scope

import normdet  # noqa: F401
from normdet.models.utils import (check_against_backbone, convert_gw_checkpoint, infer_backbone_cfg,
                                  load_source_checkpoint)

REPO = Path(__file__).resolve().parents[2]
BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}


def authors_state_dict(depth=50, groups=1, width_per_group=64, seed=0):
    """Keys and shapes of the authors' ``resnet_whiten_010n`` / ``resnext_whiten_010n``: torchvision names,
    GroupItN (weight/bias of shape (1, C, 1, 1), no buffers) at the stem bn1 and every bn2, BN elsewhere."""
    gen = torch.Generator().manual_seed(seed)
    sd = {}

    def conv(key, out_c, in_c, k):
        sd[key] = torch.randn(out_c, in_c, k, k, generator=gen)

    def bn(prefix, c):
        sd[prefix + 'weight'] = torch.rand(c, generator=gen) + 0.5
        sd[prefix + 'bias'] = torch.randn(c, generator=gen)
        sd[prefix + 'running_mean'] = torch.randn(c, generator=gen)
        sd[prefix + 'running_var'] = torch.rand(c, generator=gen) + 0.5
        sd[prefix + 'num_batches_tracked'] = torch.tensor(12345)

    def group_itn(prefix, c):
        sd[prefix + 'weight'] = torch.rand(1, c, 1, 1, generator=gen) + 0.5
        sd[prefix + 'bias'] = torch.randn(1, c, 1, 1, generator=gen)

    conv('conv1.weight', 64, 3, 7)
    group_itn('bn1.', 64)
    inplanes = 64
    for stage, n in enumerate(BLOCKS[depth], start=1):
        planes = 64 * 2**(stage - 1)
        width = int(planes * width_per_group / 64) * groups
        for b in range(n):
            p = f'layer{stage}.{b}.'
            conv(p + 'conv1.weight', width, inplanes, 1)
            bn(p + 'bn1.', width)
            conv(p + 'conv2.weight', width, width // groups, 3)
            group_itn(p + 'bn2.', width)
            conv(p + 'conv3.weight', planes * 4, width, 1)
            bn(p + 'bn3.', planes * 4)
            if b == 0:
                conv(p + 'downsample.0.weight', planes * 4, inplanes, 1)
                bn(p + 'downsample.1.', planes * 4)
            inplanes = planes * 4
    sd['fc.weight'] = torch.randn(1000, 2048, generator=gen)
    sd['fc.bias'] = torch.randn(1000, generator=gen)
    return sd


def as_published(sd):
    """A DataParallel training checkpoint, as the authors' ImageNet script saves it."""
    return dict(epoch=100, arch='resnet_whiten_010n50', best_prec1=77.72,
                state_dict={'module.' + k: v for k, v in sd.items()})


def gw_backbone(cfg):
    init_default_scope('mmdet')
    gw = dict(type='GW', num_groups=64)
    return MODELS.build(dict(cfg, norm_cfg=dict(type='BN', requires_grad=False), stem_norm_cfg=gw, norm2_cfg=gw))


def test_converts_every_key_of_the_published_resnet50():
    source = authors_state_dict()
    result = convert_gw_checkpoint(as_published(source))
    assert result.dropped == ['fc.weight', 'fc.bias']
    assert result.unplaced == []
    gw_keys = ['bn1.weight', 'bn1.bias'] + [
        f'layer{s}.{b}.bn2.{t}' for s, n in enumerate(BLOCKS[50], 1) for b in range(n) for t in ('weight', 'bias')]
    assert sorted(result.reshaped) == sorted(gw_keys)
    assert set(result.state_dict) == set(source) - {'fc.weight', 'fc.bias'}
    for key, value in result.state_dict.items():
        expected = source[key].reshape(-1) if key in gw_keys else source[key]
        assert torch.equal(value, expected), key
    assert result.state_dict['layer3.2.bn2.weight'].shape == (256, )

    cfg = infer_backbone_cfg(result.state_dict)
    assert cfg == dict(type='PositionNormResNet', depth=50)
    backbone = gw_backbone(cfg)
    assert check_against_backbone(result.state_dict, backbone) == dict(missing=[], unexpected=[], mismatched=[])
    loaded = backbone.state_dict()
    assert set(loaded) == set(result.state_dict)
    assert all(torch.equal(loaded[k], v) for k, v in result.state_dict.items())


def test_converts_the_resnext101_32x8d():
    source = authors_state_dict(depth=101, groups=32, width_per_group=8)
    result = convert_gw_checkpoint(source)  # also works unwrapped, without 'module.'
    assert result.unplaced == [] and result.dropped == ['fc.weight', 'fc.bias']
    cfg = infer_backbone_cfg(result.state_dict)
    assert cfg == dict(type='PositionNormResNeXt', depth=101, groups=32, base_width=8)
    report = check_against_backbone(result.state_dict, gw_backbone(cfg))
    assert report == dict(missing=[], unexpected=[], mismatched=[])


def test_reports_what_it_cannot_place_and_what_does_not_fit():
    source = authors_state_dict()
    source['last_bn.weight'] = torch.ones(2048)  # the authors' optional final norm
    source['layer1.0.bn2.extra_buffer'] = torch.zeros(3)
    source['epoch_counter'] = 3  # not a tensor
    del source['layer4.2.conv3.weight']
    result = convert_gw_checkpoint({'state_dict': {'module.' + k: v for k, v in source.items()}})
    assert sorted(result.unplaced) == ['epoch_counter', 'last_bn.weight', 'layer1.0.bn2.extra_buffer']
    report = check_against_backbone(result.state_dict, gw_backbone(infer_backbone_cfg(result.state_dict)))
    assert report['missing'] == ['layer4.2.conv3.weight'] and report['unexpected'] == []

    wrong = dict(result.state_dict, **{'layer2.0.bn1.weight': torch.ones(7)})
    report = check_against_backbone(wrong, gw_backbone(dict(type='PositionNormResNet', depth=50)))
    assert ('layer2.0.bn1.weight', (7, ), (128, )) in report['mismatched']
    assert 'layer2.0.bn1.weight' in report['missing']


def test_checkpoints_with_pickled_objects_need_trust(tmp_path):
    path = tmp_path / 'with_args.pth'
    torch.save(dict(as_published(authors_state_dict()), args=argparse.Namespace(lr=0.1)), path)
    with pytest.raises(RuntimeError, match='--trust-source'):
        load_source_checkpoint(str(path))
    assert 'layer1.0.bn2.weight' in load_source_checkpoint(str(path), trust=True)


@pytest.mark.slow  # a subprocess
def test_cli_writes_a_checkpoint_the_backbone_loads(tmp_path):
    src, dst = tmp_path / 'gw_r50.pth', tmp_path / 'out' / 'gw_resnet50_imagenet_converted.pth'
    source = authors_state_dict()
    torch.save(as_published(source), src)
    run = subprocess.run([sys.executable, str(REPO / 'tools/model_converters/gw2normdet.py'), str(src), str(dst)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert 'dropped (classifier): fc.weight, fc.bias' in run.stdout
    assert 'NOT PLACED' not in run.stdout and 'MISSING' not in run.stdout

    # Loaded through the config route: init_cfg Pretrained, read with torch's safe loader.
    assert set(torch.load(dst, weights_only=True)) == {'state_dict', 'meta'}
    init_default_scope('mmdet')
    gw = dict(type='GW', num_groups=64)
    backbone = MODELS.build(dict(type='PositionNormResNet', depth=50, norm_cfg=dict(type='BN', requires_grad=False),
                                 stem_norm_cfg=gw, norm2_cfg=gw,
                                 init_cfg=dict(type='Pretrained', checkpoint=str(dst))))
    backbone.init_weights()
    assert torch.equal(backbone.layer2[1].bn2.weight,
                       source['layer2.1.bn2.weight'].reshape(-1))
    assert torch.equal(backbone.layer2[1].bn1.running_var, source['layer2.1.bn1.running_var'])
