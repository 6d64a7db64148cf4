"""XConvFCBBoxHead, maskrcnn-benchmark's FPNXconv1fcFeatureExtractor + FPNPredictor: the layer sequence (one
ReLU, after the last conv + norm), the norms from norm_cfg, the authors' initialisation, the output shapes,
and the errors for arguments it does not have."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmengine.registry import init_default_scope

import normdet  # noqa: F401  (registers the head)
from normdet.layers import GroupWhitening
from normdet.models.roi_heads import XConvFCBBoxHead

NORMS = {
    'none': (None, None),
    'GN': (dict(type='GN', num_groups=8), nn.GroupNorm),
    'GW': (dict(type='GW', num_groups=8), GroupWhitening),
}


@pytest.fixture(scope='module', autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')


def small_head(norm_cfg, **kwargs):
    """A head of the authors' shape at a size that tests fast: 32 RoI channels, 32 conv channels, fc 64."""
    cfg = dict(type='XConvFCBBoxHead', in_channels=32, roi_feat_size=7, num_classes=5, conv_out_channels=32,
               fc_out_channels=64, norm_cfg=norm_cfg)
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def authors_sequence(head, x):
    """maskrcnn-benchmark's forward, written out with the head's own layers: (conv, norm) x n, one ReLU, fc6,
    ReLU, predictors."""
    for block in head.shared_convs[:-1]:
        x = block.conv(x)
        if block.with_norm:
            x = block.norm(x)
    x = F.relu(x).flatten(1)
    for fc in head.shared_fcs:
        x = F.relu(fc(x))
    return head.fc_cls(x), head.fc_reg(x)


@pytest.mark.parametrize('norm', NORMS, ids=str)
def test_four_conv_norm_pairs_then_exactly_one_relu(norm):
    norm_cfg, norm_class = NORMS[norm]
    head = small_head(norm_cfg)
    *blocks, last = head.shared_convs
    assert len(blocks) == 4 and type(last) is nn.ReLU
    assert sum(isinstance(m, nn.ReLU) for m in head.shared_convs.modules()) == 1
    for i, block in enumerate(blocks):
        assert not block.with_activation, f'conv {i} has an activation'
        assert block.conv.kernel_size == (3, 3) and block.conv.padding == (1, 1)
        assert block.conv.in_channels == 32 and block.conv.out_channels == 32
        # A norm's β replaces the conv bias, as in the authors' head.
        assert (block.conv.bias is None) == (norm_cfg is not None)
        if norm_class is None:
            assert not block.with_norm
        else:
            assert type(block.norm) is norm_class and block.norm.num_groups == 8
    assert [fc.in_features for fc in head.shared_fcs] == [32 * 7 * 7] and head.shared_fcs[0].out_features == 64

    x = torch.randn(6, 32, 7, 7, generator=torch.Generator().manual_seed(0))
    head.eval()
    with torch.no_grad():
        cls_score, bbox_pred = head(x)
        expected_cls, expected_reg = authors_sequence(head, x)
    torch.testing.assert_close(cls_score, expected_cls)
    torch.testing.assert_close(bbox_pred, expected_reg)


@pytest.mark.parametrize('norm', NORMS, ids=str)
def test_mmdet_head_with_the_same_weights_differs_only_by_its_relus(norm):
    """Shared4Conv1FCBBoxHead has the same parameters under the same names (a checkpoint loads either way)
    and the same sequence up to its ReLU after every conv, which changes the output."""
    norm_cfg, _ = NORMS[norm]
    head = small_head(norm_cfg)
    mmdet_head = MODELS.build(dict(type='Shared4Conv1FCBBoxHead', in_channels=32, roi_feat_size=7, num_classes=5,
                                   conv_out_channels=32, fc_out_channels=64, norm_cfg=norm_cfg))
    mmdet_head.load_state_dict(head.state_dict(), strict=True)
    head.eval()
    mmdet_head.eval()
    x = torch.randn(6, 32, 7, 7, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, theirs = head(x)[0], mmdet_head(x)[0]
    # Relative: without a norm the normal(0.01) convs shrink the signal to about 1e-3 of the input.
    assert not torch.allclose(ours, theirs, rtol=1e-2, atol=0)


@pytest.mark.parametrize('norm', NORMS, ids=str)
def test_authors_initialisation(norm):
    """At the paper's size: convs normal(0, 0.01), fc6 kaiming_uniform(a=1) = U(±sqrt(3 / fan_in)),
    cls normal(0, 0.01), reg normal(0, 0.001), biases 0, norms at γ = 1, β = 0."""
    norm_cfg = None if norm == 'none' else dict(NORMS[norm][0], num_groups=64 if norm == 'GW' else 32)
    head = MODELS.build(dict(type='XConvFCBBoxHead', in_channels=256, roi_feat_size=7, num_classes=80,
                             norm_cfg=norm_cfg))
    head.init_weights()
    for block in head.shared_convs[:-1]:
        w = block.conv.weight
        assert abs(w.mean().item()) < 1e-3 and w.std().item() == pytest.approx(0.01, rel=0.02)
        if block.conv.bias is not None:
            assert not block.conv.bias.any()
        if block.with_norm:
            assert torch.all(block.norm.weight == 1) and not block.norm.bias.any()
    fc6 = head.shared_fcs[0]
    bound = math.sqrt(3 / fc6.in_features)
    assert fc6.in_features == 256 * 49 and fc6.out_features == 1024
    assert fc6.weight.abs().max().item() <= bound and fc6.weight.abs().max().item() > 0.999 * bound
    assert fc6.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.01) and not fc6.bias.any()
    assert head.fc_cls.weight.std().item() == pytest.approx(0.01, rel=0.05) and not head.fc_cls.bias.any()
    assert head.fc_reg.weight.std().item() == pytest.approx(0.001, rel=0.05) and not head.fc_reg.bias.any()


@pytest.mark.parametrize('norm', NORMS, ids=str)
@pytest.mark.parametrize('num_rois', [7, 0])
def test_output_shapes_and_backward(norm, num_rois):
    """(N, K + 1) scores and (N, 4K) class-specific deltas, (N, 4) class-agnostic; an image without RoIs
    gives empty outputs. The in-place ReLU after the norm keeps the norm's backward intact."""
    norm_cfg, _ = NORMS[norm]
    head = small_head(norm_cfg)
    x = torch.randn(num_rois, 32, 7, 7, requires_grad=True)
    cls_score, bbox_pred = head(x)
    assert cls_score.shape == (num_rois, 6) and bbox_pred.shape == (num_rois, 20)
    (cls_score.sum() + bbox_pred.sum()).backward()
    assert x.grad.shape == x.shape and torch.isfinite(x.grad).all()
    assert all(p.grad is not None for p in head.parameters())
    agnostic = small_head(norm_cfg, reg_class_agnostic=True)
    assert agnostic(x.detach())[1].shape == (num_rois, 4)


def test_configurable_stack_and_repr():
    head = small_head(dict(type='GW', num_groups=8), num_shared_convs=2, num_shared_fcs=2)
    assert len(head.shared_convs) == 3 and len(head.shared_fcs) == 2
    assert '2 x (conv3x3 -> 32, norm=GW), one ReLU after the last' in repr(head)
    assert isinstance(head, XConvFCBBoxHead) and MODELS.get('XConvFCBBoxHead') is XConvFCBBoxHead


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_shared_convs=0), 'num_shared_convs must be a positive int, got 0'),
    (dict(num_shared_convs=2.0), 'num_shared_convs must be a positive int, got 2.0'),
    (dict(num_shared_fcs=0), 'num_shared_fcs must be a positive int, got 0'),
    (dict(num_cls_convs=1), 'no separate branches.*num_cls_convs=1'),
    (dict(num_reg_fcs=2), 'no separate branches.*num_reg_fcs=2'),
])
def test_bad_arguments_name_the_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        small_head(None, **kwargs)
