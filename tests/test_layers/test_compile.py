"""Every layer compiles with ``torch.compile(fullgraph=True)`` (one graph, no break) in training and in evaluation,
and gives eager's outputs, input and parameter gradients and running-statistic updates."""
import copy

import pytest
import torch
from mmcv.cnn import build_norm_layer
from torch import Tensor
from torch._dynamo.testing import CompileCounterWithBackend

import normdet  # noqa: F401
from normdet.layers import NORM_TYPES, small_norm_cfg

SHAPE = (3, 8, 5, 6)

# Relative and absolute tolerances, float32, about 10x the largest differences seen (torch 2.13, CPU). 'aot_eager'
# runs eager's aten ops on the traced (functionalized) graph: equal to eager, but for GW's and ItN's products, formed
# in one matmul when compiled (normdet.layers.whitening.blocked_matmul_sum), and channels_last inputs, where a few
# ops see other strides: 1.2e-6 relative at most (GW's weight gradient). 'inductor' generates its own kernels, which
# reduce in another order and fuse the elementwise steps: 6e-6 relative at most (GN+'s gradients).
TOLERANCES = {'aot_eager': dict(rtol=1e-5, atol=1e-6), 'inductor': dict(rtol=5e-5, atol=1e-5)}


@pytest.fixture(autouse=True)
def fresh_dynamo():
    """Each case compiles from scratch: no cached graph or guard of an earlier case is reused."""
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def trained_layer(norm_type, **kwargs):
    """A small layer with a non-trivial affine (and GN+'s λ) and running statistics moved by one training step."""
    torch.manual_seed(0)
    layer = build_norm_layer(dict(small_norm_cfg(norm_type), **kwargs), SHAPE[1])[1]
    with torch.no_grad():
        for param in layer.parameters():
            param.add_(torch.randn_like(param), alpha=0.2)
        layer(torch.randn(SHAPE) * 2 + 1)
    return layer


def tensor_state(layer):
    """Buffers, and tensors kept as plain attributes (SWBN's ``last_covariance``)."""
    state = dict(layer.state_dict())
    state.update({name: value for name, value in vars(layer).items() if isinstance(value, Tensor)})
    return state


def assert_compiled_matches_eager(layer, training, backend, memory_format=torch.contiguous_format, steps=2):
    """``steps`` forward and backward passes of fresh copies of ``layer``, eager and compiled, on the same inputs
    and output gradients: the same outputs (and strides), gradients and state after each, from one compiled graph."""
    layer.train(training)
    eager, compiled_layer = copy.deepcopy(layer), copy.deepcopy(layer)
    counter = CompileCounterWithBackend(backend)
    compiled = torch.compile(compiled_layer, fullgraph=True, backend=counter, dynamic=False)
    tol = TOLERANCES[backend]
    for step in range(steps):
        x = torch.randn(SHAPE).contiguous(memory_format=memory_format)
        grad_out = torch.randn(SHAPE)
        x_eager, x_compiled = x.clone().requires_grad_(), x.clone().requires_grad_()
        y_eager, y_compiled = eager(x_eager), compiled(x_compiled)
        torch.testing.assert_close(y_compiled, y_eager, **tol, msg=lambda m: f'output, step {step}: {m}')
        assert y_compiled.stride() == y_eager.stride()
        (y_eager * grad_out).sum().backward()
        (y_compiled * grad_out).sum().backward()
        torch.testing.assert_close(x_compiled.grad, x_eager.grad, **tol, msg=lambda m: f'input grad, step {step}: {m}')
        compiled_params = dict(compiled_layer.named_parameters())
        for name, param in eager.named_parameters():
            torch.testing.assert_close(compiled_params[name].grad, param.grad, **tol,
                                       msg=lambda m: f'{name}.grad, step {step}: {m}')
        compiled_state = tensor_state(compiled_layer)
        for name, value in tensor_state(eager).items():
            torch.testing.assert_close(compiled_state[name], value, **tol, msg=lambda m: f'{name}, step {step}: {m}')
    assert counter.frame_count == 1  # one graph for all steps: no graph break, no recompilation


@pytest.mark.parametrize('training', [True, False], ids=['train', 'eval'])
@pytest.mark.parametrize('norm_type', NORM_TYPES)
def test_compiles_to_one_graph_with_eager_results(norm_type, training):
    assert_compiled_matches_eager(trained_layer(norm_type), training, 'aot_eager')


@pytest.mark.parametrize('norm_type', NORM_TYPES)
def test_compiles_channels_last_input(norm_type):
    assert_compiled_matches_eager(trained_layer(norm_type), True, 'aot_eager', torch.channels_last, steps=1)


@pytest.mark.parametrize('norm_type', NORM_TYPES)
def test_compiles_cumulative_running_average(norm_type):
    """momentum=None (the running statistics average over num_batches_tracked), for the layers that offer it."""
    layer = trained_layer(norm_type)
    if getattr(layer, 'num_batches_tracked', None) is None:
        pytest.skip(f'{norm_type} keeps no num_batches_tracked')
    assert_compiled_matches_eager(trained_layer(norm_type, momentum=None), True, 'aot_eager')


@pytest.mark.slow
@pytest.mark.parametrize('norm_type', NORM_TYPES)
def test_compiles_with_inductor(norm_type):
    layer = trained_layer(norm_type)
    assert_compiled_matches_eager(layer, True, 'inductor')
    torch._dynamo.reset()
    assert_compiled_matches_eager(layer, False, 'inductor', steps=1)
