"""normdet.layers.flops: every layer's count against hand arithmetic, through mmengine's counter (its op
handles, registered by importing normdet) and through NormFlopAnalyzer (module-level), and a model's count
as its convolutions' plus its norm's."""
import pytest
import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.analysis import FlopAnalyzer, get_model_complexity_info
from mmengine.analysis.complexity_analysis import _DEFAULT_SUPPORTED_FLOP_OPS

import normdet  # noqa: F401
from normdet.layers import NORM_TYPES, NormFlopAnalyzer, norm_flops, small_norm_cfg
from normdet.layers.flops import FLOP_HANDLES

# (2, 8, 5, 6): N = 2, C = 8, E = 480. The small configs: GW 4 groups, BGN/SyncBGN/GNPlus 4 groups, ItN and
# SWBN 4 channels per group (2 groups); T = 5, so the Newton iteration is 3·4·4³ = 768 per (4, 4) Σ.
SHAPE = (2, 8, 5, 6)
BY_HAND = {  # norm type: (training, evaluation)
    # Σ and W·xc 4·480 each, Newton 768 per sample
    'GW': (2 * 4 * 480 + 2 * 768, ) * 2,
    # as BatchNorm with affine: 5·E with batch statistics, 2·E with running ones
    'BGN': (5 * 480, 2 * 480),
    'SyncBGN': (5 * 480, 2 * 480),
    # GroupNorm without affine (4·E) + BatchNorm with affine
    'GNPlus': (4 * 480 + 5 * 480, 4 * 480 + 2 * 480),
    # training: Σ and W·xc 4·480 each, Newton 768 per group; evaluation: W·x 4·480 and W·μ C·d = 32
    'ItN': (2 * 4 * 480 + 2 * 768, 4 * 480 + 32),
    # BatchNorm + W·x̂ (4·480); training: Σ (4·480) and the KL step, 3·4³ per group
    'SWBN': (5 * 480 + 4 * 480 + 4 * 480 + 2 * 3 * 64, 2 * 480 + 4 * 480),
}


def build(norm_type, training):
    return build_norm_layer(small_norm_cfg(norm_type), SHAPE[1])[1].train(training)


def test_every_layer_has_a_rule_and_a_hand_count():
    assert set(BY_HAND) == set(NORM_TYPES)
    for norm_type in NORM_TYPES:  # norm_flops raises for a layer without a rule
        assert norm_flops(build(norm_type, True), SHAPE) > 0


def test_importing_normdet_registers_the_handles_of_the_autograd_functions():
    assert set(FLOP_HANDLES) == {f'prim::PythonOp.{name}Function' for name in (
        'GroupWhitening', 'BatchGroupNorm', 'GroupNormPlus', 'IterNorm', 'StochasticWhitening')}
    assert all(_DEFAULT_SUPPORTED_FLOP_OPS[name] is handle for name, handle in FLOP_HANDLES.items())


@pytest.mark.parametrize('training', [True, False], ids=['train', 'eval'])
@pytest.mark.parametrize('norm_type', NORM_TYPES)
def test_layer_count_is_the_hand_count(norm_type, training):
    expected = BY_HAND[norm_type][0 if training else 1]
    layer = build(norm_type, training)
    assert norm_flops(layer, SHAPE) == expected
    analyzer = NormFlopAnalyzer(layer, torch.randn(SHAPE))
    assert analyzer.by_operator() == {norm_type: expected}
    assert not analyzer.unsupported_ops()  # the layer's elementwise ops are not reported as unsupported


# In evaluation only GW runs its autograd Function; the others evaluate with plain ops (see NormFlopAnalyzer).
@pytest.mark.parametrize('norm_type, training', [('GW', False)] + [(norm_type, True) for norm_type in NORM_TYPES],
                         ids=['GW-eval'] + [f'{norm_type}-train' for norm_type in NORM_TYPES])
def test_mmengine_counter_counts_the_autograd_functions_by_the_rules(norm_type, training):
    layer = build(norm_type, training)
    x = torch.randn(SHAPE)
    assert FlopAnalyzer(layer, x).total() == BY_HAND[norm_type][0 if training else 1]
    info = get_model_complexity_info(layer, inputs=(x, ), show_table=False, show_arch=False)
    assert info['flops'] == BY_HAND[norm_type][0 if training else 1]


def test_gw_counts_without_affine_and_with_other_iterations():
    layer = build_norm_layer(dict(type='GW', num_groups=2, T=3, affine=False), 8)[1]
    # 2 groups, T = 3: Σ and W·xc 2·480 each, Newton 3·2·2³ = 48 per sample
    assert FlopAnalyzer(layer, torch.randn(SHAPE)).total() == 2 * 2 * 480 + 2 * 48


@pytest.mark.parametrize('training', [True, False], ids=['train', 'eval'])
@pytest.mark.parametrize('norm_type', NORM_TYPES)
def test_model_count_is_its_convolutions_plus_its_norm(norm_type, training):
    # conv 3->8 3x3 (padding 1) on 5x6: 2·(8·3·9)·30 = 12960; conv 8->8 1x1: 2·64·30 = 3840
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), build(norm_type, training), nn.ReLU(),
                          nn.Conv2d(8, 8, 1)).train(training)
    analyzer = NormFlopAnalyzer(model, torch.randn(2, 3, 5, 6))
    norm = BY_HAND[norm_type][0 if training else 1]
    assert analyzer.by_operator() == {'conv': 12960 + 3840, norm_type: norm}
    assert analyzer.total() == 12960 + 3840 + norm
    assert analyzer.by_module()['1'] == norm and analyzer.by_module()['0'] == 12960
