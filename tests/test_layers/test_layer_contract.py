"""What every normdet layer promises a detector: shapes, empty batches, precision, memory formats, errors,
registration and state_dicts."""
import pytest
import torch
from mmcv.cnn import build_norm_layer
from mmengine.registry import MODELS, DefaultScope, init_default_scope

import normdet  # noqa: F401
from normdet.layers import NORM_LAYERS, NORM_TYPES, BaseNormLayer, paper_norm_cfg, small_norm_cfg

ABBR = {'GW': 'gw', 'BGN': 'bgn', 'SyncBGN': 'bgn', 'GNPlus': 'gnp', 'ItN': 'itn', 'SWBN': 'swbn'}


def build(norm_type, channels=8):
    return build_norm_layer(small_norm_cfg(norm_type), channels)[1]


def test_the_set_of_norms_is_every_registered_normdet_layer_in_readme_order():
    registered = {name: cls for name, cls in MODELS.module_dict.items()
                  if isinstance(cls, type) and cls.__module__.startswith('normdet.layers.')}
    assert NORM_TYPES == ('GW', 'BGN', 'SyncBGN', 'GNPlus', 'ItN', 'SWBN')
    assert dict(zip(NORM_TYPES, NORM_LAYERS)) == registered
    assert all(issubclass(cls, BaseNormLayer) for cls in NORM_LAYERS)
    assert set(ABBR) == set(NORM_TYPES)
    for norm_type in NORM_TYPES:  # every layer declares its test and paper arguments
        assert small_norm_cfg(norm_type)['type'] == paper_norm_cfg(norm_type)['type'] == norm_type
        assert len(small_norm_cfg(norm_type)) > 1 and len(paper_norm_cfg(norm_type)) > 1


@pytest.mark.parametrize('norm_type', NORM_TYPES)
def test_builds_through_mmcv_in_plain_code_and_mmdet_scope(norm_type):
    name, layer = build_norm_layer(small_norm_cfg(norm_type), 8, postfix=2)
    assert name == ABBR[norm_type] + '2'
    assert layer.eps == 1e-5  # build_norm_layer always passes eps
    assert type(layer) is MODELS.get(norm_type)
    with DefaultScope.overwrite_default_scope('mmdet'):
        init_default_scope('mmdet')
        name, layer = build_norm_layer(dict(small_norm_cfg(norm_type), eps=1e-3), 8, postfix=1)
        assert name == ABBR[norm_type] + '1' and layer.eps == 1e-3
    assert layer.weight.shape == (8, ) and bool((layer.weight == 1).all()) and bool((layer.bias == 0).all())
    assert norm_type in repr(layer) or type(layer).__name__ in repr(layer)


@pytest.mark.parametrize('norm_type', NORM_TYPES)
@pytest.mark.parametrize('shape', [(4, 8), (3, 8, 5), (2, 8, 4, 5), (2, 8, 3, 2, 3)])
def test_all_ranks_train_and_eval(norm_type, shape):
    layer = build(norm_type)
    x = torch.randn(*shape, requires_grad=True)
    y = layer(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    y.square().sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(layer.weight.grad).all()
    layer.eval()
    assert torch.isfinite(layer(x)).all()


@pytest.mark.parametrize('norm_type', NORM_TYPES)
@pytest.mark.parametrize('training', [True, False])
def test_empty_batch(norm_type, training):
    layer = build(norm_type).train(training)
    state = {k: v.clone() for k, v in layer.state_dict().items()}
    x = torch.randn(0, 8, 7, 7, requires_grad=True)
    y = layer(x)
    assert y.shape == (0, 8, 7, 7)
    y.sum().backward()
    assert x.grad.shape == x.shape
    assert layer.weight.grad is not None  # the parameters stay in the graph (DDP needs them used)
    for k, v in layer.state_dict().items():  # running statistics are untouched by an empty batch
        assert torch.equal(v, state[k]), k


@pytest.mark.parametrize('norm_type', NORM_TYPES)
@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_half_inputs_are_normalized_in_float32(norm_type, dtype):
    layer = build(norm_type)
    reference = build(norm_type)
    x = torch.randn(4, 8, 6, 6) * 3 + 1
    x_half = x.to(dtype)
    y = layer(x_half)
    assert y.dtype == dtype
    expected = reference(x_half.float())
    torch.testing.assert_close(y.float(), expected.to(dtype).float(), rtol=0, atol=0)
    for name, buf in layer.named_buffers():
        if buf.is_floating_point():
            assert buf.dtype == torch.float32, name
            torch.testing.assert_close(buf, dict(reference.named_buffers())[name])


@pytest.mark.parametrize('norm_type', NORM_TYPES)
def test_autocast_computes_in_float32(norm_type):
    layer, reference = build(norm_type), build(norm_type)
    x = torch.randn(2, 8, 5, 5)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        y = layer(x)
        y_half = layer.eval()(x.bfloat16())
    reference.train()
    torch.testing.assert_close(y, reference(x), rtol=0, atol=0)
    assert y.dtype == torch.float32 and y_half.dtype == torch.bfloat16


LAYOUTS = [((4, 8), torch.contiguous_format), ((3, 8, 5), torch.contiguous_format),
           ((2, 8, 5, 6), torch.contiguous_format), ((2, 8, 5, 6), torch.channels_last),
           ((2, 8, 3, 2, 3), torch.contiguous_format), ((2, 8, 3, 2, 3), torch.channels_last_3d)]


@pytest.mark.parametrize('norm_type', NORM_TYPES)
@pytest.mark.parametrize('training', [True, False], ids=['train', 'eval'])
@pytest.mark.parametrize('shape,memory_format', LAYOUTS, ids=lambda v: str(v).replace('torch.', ''))
def test_output_and_gradient_keep_the_input_memory_format(norm_type, training, shape, memory_format):
    """Strides, not only values: mmcv's CPU RoIAlign reads its input's storage as contiguous whatever the
    strides, so a permuted view with the right values (SWBN's output once) scrambles the RoI features."""
    layer, reference = build(norm_type), build(norm_type)
    for _ in range(2):  # running statistics (and SWBN's W) away from their initial values for eval
        batch = torch.randn(*shape) * 2 + 1
        layer(batch), reference(batch)
    layer.train(training), reference.train(training)
    x = torch.randn(*shape)
    x_laid_out = torch.empty_like(x, memory_format=memory_format).copy_(x).requires_grad_()
    x_reference = x.clone().requires_grad_()
    y, y_reference = layer(x_laid_out), reference(x_reference)
    assert y.stride() == x_laid_out.stride() and y.dtype == x.dtype
    torch.testing.assert_close(y, y_reference, rtol=1e-5, atol=1e-5)
    grad = torch.randn(*shape)
    y.backward(grad.contiguous(memory_format=memory_format)), y_reference.backward(grad)
    assert x_laid_out.grad.stride() == x_laid_out.stride()
    torch.testing.assert_close(x_laid_out.grad, x_reference.grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('norm_type', NORM_TYPES)
def test_the_math_itself_returns_a_contiguous_output_for_a_contiguous_input(norm_type):
    """Without the base class's final conversion, which would copy: every layer's math ends in a view."""
    layer = build(norm_type)
    for training in (True, False):
        assert layer.train(training)._normalize(torch.randn(2, 8, 5, 6)).is_contiguous(), training


@pytest.mark.parametrize('norm_type', NORM_TYPES)
def test_bad_inputs_say_what_was_expected(norm_type):
    layer = build(norm_type)
    with pytest.raises(ValueError, match=r'expects 8 channels.*\(2, 6, 4, 4\)'):
        layer(torch.randn(2, 6, 4, 4))
    with pytest.raises(ValueError, match=r'1 to 3 spatial dims.*1-d input of shape \(8,\)'):
        layer(torch.randn(8))
    with pytest.raises(ValueError, match=r'6-d input'):
        layer(torch.randn(1, 8, 2, 2, 2, 2))


@pytest.mark.parametrize('norm_type', ['GW', 'BGN', 'SyncBGN', 'GNPlus'])
def test_group_count_that_does_not_divide_is_a_clear_error(norm_type):
    with pytest.raises(ValueError, match=r"num_groups=3 does not divide its 8 channels"):
        build_norm_layer(dict(type=norm_type, num_groups=3), 8)


@pytest.mark.parametrize('norm_type', NORM_TYPES)
def test_state_dict_round_trip(norm_type):
    layer = build(norm_type)
    with torch.no_grad():
        layer.weight.uniform_(0.5, 1.5)
    for _ in range(3):
        layer(torch.randn(4, 8, 3, 3) * 2 + 1)
    layer.eval()
    clone = build(norm_type).eval()
    clone.load_state_dict(layer.state_dict())
    x = torch.randn(2, 8, 3, 3)
    assert torch.equal(layer(x), clone(x))


@pytest.mark.parametrize('norm_type', NORM_TYPES)
def test_constant_input_stays_finite(norm_type):
    layer = build(norm_type)
    x = torch.full((2, 8, 4, 4), 3.0, requires_grad=True)
    y = layer(x)
    y.sum().backward()
    assert torch.isfinite(y).all() and torch.isfinite(x.grad).all()


def _saved_for_backward(layer, x):
    """Bytes of the distinct storages autograd keeps from ``layer(x)`` until the backward, and the output."""
    storages = {}

    def pack(t):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = layer(x)
    return sum(storages.values()), y


@pytest.mark.parametrize('norm_type', NORM_TYPES)
def test_training_keeps_only_the_input_and_small_statistics_for_backward(norm_type):
    """As torch's BatchNorm (which keeps its input): no layer keeps its output (an in-place ReLU after it would
    invalidate that), a centred copy or a normalized one; the rest is per-channel or (d, d) statistics."""
    layer = build_norm_layer(paper_norm_cfg(norm_type), 256)[1].train()
    x = torch.randn(2, 256, 24, 24, requires_grad=True)
    saved, y = _saved_for_backward(layer, x)
    # beyond the input: at most three (C/d, d, d) matrices (d ≤ 64: ItN's Σ and W) and a few (N, C) vectors
    assert 0 <= saved - x.numel() * 4 <= 4 * (3 * 256 * 64 + 16 * 256)
    torch.relu_(y)  # the detectors' in-place ReLU after a norm
    y.sum().backward()
