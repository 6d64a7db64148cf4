"""Inputs that break naive whitening give finite outputs and gradients."""
import pytest
import torch
from mmcv.cnn import build_norm_layer

import normdet  # noqa: F401
from normdet.layers import NORM_TYPES, GroupNormPlus, paper_norm_cfg

# SWBN's whitening step at a rate large enough that two steps on a hard input would show a blow-up.
OVERRIDES = {'SWBN': dict(whitening_lr=1e-2)}


def build(norm_type, channels=256):
    """The papers' defaults, at the channel counts of a detector's layers."""
    return build_norm_layer(dict(paper_norm_cfg(norm_type), **OVERRIDES.get(norm_type, {})), channels)[1]


def assert_finite_forward_backward(layer, x):
    x = x.clone().requires_grad_()
    y = layer(x)
    assert torch.isfinite(y).all()
    (y * torch.randn_like(y)).sum().backward()
    assert torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters())
    for name, buf in layer.named_buffers():
        assert torch.isfinite(buf.float()).all(), name
    return y


CASES = {
    'all-zero': lambda: torch.zeros(2, 256, 6, 6),
    'all-constant': lambda: torch.full((2, 256, 6, 6), 7.0),
    'rank-deficient (7x7 RoIs, 64 groups of 4 channels)': lambda: torch.randn(3, 256, 1, 1),
    'tiny scale 1e-6': lambda: torch.randn(2, 256, 6, 6) * 1e-6,
    'huge scale 1e6': lambda: torch.randn(2, 256, 6, 6) * 1e6,
    'single image': lambda: torch.randn(1, 256, 8, 8),
    'single RoI': lambda: torch.randn(1, 256, 7, 7),
    'single RoI, FC features': lambda: torch.randn(1, 256),
}


@pytest.mark.parametrize('norm_type', NORM_TYPES)
@pytest.mark.parametrize('case', list(CASES))
@pytest.mark.parametrize('training', [True, False])
def test_hard_inputs_stay_finite(norm_type, case, training):
    x = CASES[case]()
    layer = build(norm_type).train(training)
    values_per_statistic = x.size(0) * x[0, 0].numel() * (256 // 32 if norm_type.endswith('BGN') else 1)
    needs_two_values = training and norm_type != 'GW' and values_per_statistic < 2
    if needs_two_values:  # one value per statistic: undefined in training, as in torch's BatchNorm
        with pytest.raises(ValueError, match='more than 1 value'):
            layer(x)
        return
    for _ in range(2):  # twice: running statistics and SWBN's whitening matrix must stay finite too
        assert_finite_forward_backward(layer, x)


@pytest.mark.parametrize('norm_type', NORM_TYPES)
def test_scale_invariance_of_the_normalization(norm_type):
    """Data scaled by 1e3 or 0.3 normalizes to the same output, up to the effect of eps."""
    x = torch.randn(4, 256, 6, 6, dtype=torch.float64)
    outputs = [build(norm_type).double()(x * s) for s in (0.3, 1.0, 1e3)]
    for y in outputs[1:]:
        torch.testing.assert_close(y, outputs[0], rtol=0, atol=5e-3)


@pytest.mark.parametrize('norm_type', NORM_TYPES)
def test_non_finite_input_is_reported_under_anomaly_detection(norm_type):
    layer = build(norm_type)
    x = torch.randn(2, 256, 4, 4)
    x[0, 3, 1, 1] = float('nan')
    x[1, 0, 0, 0] = float('inf')
    with torch.autograd.set_detect_anomaly(True):
        with pytest.raises(FloatingPointError, match=r'non-finite input .*\(1 NaN, 1 inf\)'):
            layer(x)
    layer(x)  # without anomaly detection there is no host sync and no check


GNPLUS_EDGE_CASES = {
    'constant, training': (torch.full((2, 8, 3, 3), 3.0), True),
    'constant, evaluation': (torch.full((2, 8, 3, 3), 3.0), False),
    'one value per group and sample, training': (torch.randn(4, 8), True),
    'one value per group and sample, evaluation': (torch.randn(4, 8), False),
    'one value per group in the batch, evaluation': (torch.randn(1, 8), False),
}


@pytest.mark.parametrize('denominator', ['sqrt_var', 'std'])
@pytest.mark.parametrize('case', list(GNPLUS_EDGE_CASES))
def test_gnplus_one_channel_groups_stay_finite(denominator, case):
    """Found by test_layer_fuzz.py: with 'std', (x − μ)/(unbiased std + ε) gave NaN input gradients for a
    constant group or channel (√ at 0) and divided by m − 1 = 0 for one value per group; with 'sqrt_var',
    F.group_norm refused one value per group in the whole batch (one RoI), in evaluation too."""
    x, training = GNPLUS_EDGE_CASES[case]
    layer = GroupNormPlus(8, num_groups=8, denominator=denominator).train(training)
    assert_finite_forward_backward(layer, x)
