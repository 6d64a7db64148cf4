"""The analytic backward of GW and IterNorm against plain autograd of the same math in float64, and what they
keep for backward. Speed and memory targets live in the benchmark (tools/analysis_tools/benchmark_norms.py), which prints
ratios measured side by side in one run; here only what is saved is tested, not timings.

The references below are the layers' formulas written out with plain torch ops and differentiated by
autograd; they share no code with normdet.
"""
import pytest
import torch
import torch.nn.functional as F

from normdet.layers import GroupWhitening, IterNorm
from normdet.layers.gw import GroupWhiteningFunction
from normdet.layers.itn import IterNormFunction
from normdet.layers.whitening import blocked_matmul_sum, matmul_4d, newton_schulz_whitening_backward

DOUBLE = dict(dtype=torch.float64)


def newton(sigma, T):
    """P_0 = I, P_{k+1} = 1.5·P_k − 0.5·P_k³·Σ_N, W = P_T/√tr(Σ), batched."""
    tr = sigma.diagonal(dim1=-2, dim2=-1).sum(-1)[:, None, None]
    sigma_n = sigma / tr
    p = torch.eye(sigma.shape[-1], **DOUBLE).expand_as(sigma)
    for _ in range(T):
        p = 1.5 * p - 0.5 * p @ p @ p @ sigma_n
    return p / tr.sqrt()


def channel_affine(y, weight, bias):
    shape = (1, -1) + (1, ) * (y.dim() - 2)
    return y * weight.view(shape) + bias.view(shape)


def gw_reference(x, weight, bias, groups, T, eps):
    n = x.shape[0]
    rows = x.reshape(n, groups, -1)
    xc = rows - rows.mean(-1, keepdim=True)
    sigma = xc @ xc.transpose(1, 2) / rows.shape[-1] + eps * torch.eye(groups, **DOUBLE)
    y = (newton(sigma, T) @ xc).reshape(x.shape)
    return y if weight is None else channel_affine(y, weight, bias)


def itn_reference(x, weight, bias, d, T, eps):
    n, c = x.shape[:2]
    rows = x.transpose(0, 1).reshape(c // d, d, -1)
    mean = rows.mean(-1, keepdim=True)
    xc = rows - mean
    sigma = xc @ xc.transpose(1, 2) / rows.shape[-1] + eps * torch.eye(d, **DOUBLE)
    wm = newton(sigma, T)
    y = (wm @ xc).reshape((c, n) + x.shape[2:]).transpose(0, 1)
    return (y if weight is None else channel_affine(y, weight, bias)), mean, wm


def random_params(c, affine, gen):
    if not affine:
        return None, None
    weight = (torch.rand(c, generator=gen, **DOUBLE) + 0.5).requires_grad_()
    bias = torch.randn(c, generator=gen, **DOUBLE).requires_grad_()
    return weight, bias


def grads(out, inputs, grad_out):
    inputs = [t for t in inputs if t is not None]
    return torch.autograd.grad(out, inputs, grad_out)


def assert_same_grads(y, y_ref, inputs, grad_out):
    """The analytic backward of y equals autograd through the reference y_ref, for every input."""
    for got, expected in zip(grads(y, inputs, grad_out), grads(y_ref, inputs, grad_out)):
        torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize('T', [0, 1, 2, 5, 9])
def test_newton_backward_matches_autograd(T):
    gen = torch.Generator().manual_seed(T)
    a = torch.randn(4, 7, 12, generator=gen, **DOUBLE)
    sigma = (a @ a.transpose(1, 2) / 12 + 1e-3 * torch.eye(7, **DOUBLE)).requires_grad_()
    wm = newton(sigma, T)
    grad_wm = torch.randn(wm.shape, generator=gen, **DOUBLE)
    (expected, ) = torch.autograd.grad(wm, sigma, grad_wm)
    got = newton_schulz_whitening_backward(sigma.detach(), T, grad_wm)
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12 * expected.abs().max().item())


GW_CASES = [((2, 16, 5, 4), 4), ((3, 8, 6), 8), ((4, 12), 3), ((2, 8, 2, 3, 2), 2), ((1, 6, 3, 3), 6),
            ((2, 6, 4, 4), 1)]


@pytest.mark.parametrize('shape,groups', GW_CASES)
@pytest.mark.parametrize('T', [0, 1, 5])
@pytest.mark.parametrize('affine', [True, False])
def test_gw_analytic_backward_matches_autograd(shape, groups, T, affine):
    gen = torch.Generator().manual_seed(len(shape) * 10 + groups)
    x = (torch.randn(*shape, generator=gen, **DOUBLE) * 2 + 0.5).requires_grad_()
    weight, bias = random_params(shape[1], affine, gen)
    y = GroupWhiteningFunction.apply(x, weight, bias, groups, T, 1e-3)
    y_ref = gw_reference(x, weight, bias, groups, T, 1e-3)
    torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-12)
    assert_same_grads(y, y_ref, (x, weight, bias), torch.randn(y.shape, generator=gen, **DOUBLE))


ITN_CASES = [((4, 8, 3, 3), 4), ((6, 6), 3), ((3, 4, 5), 4), ((1, 8, 4, 5), 8), ((2, 6, 2, 2, 3), 2), ((3, 4, 2, 2), 1)]


@pytest.mark.parametrize('shape,d', ITN_CASES)
@pytest.mark.parametrize('T', [0, 1, 5])
@pytest.mark.parametrize('affine', [True, False])
def test_itn_analytic_backward_matches_autograd(shape, d, T, affine):
    gen = torch.Generator().manual_seed(len(shape) * 10 + d)
    x = (torch.randn(*shape, generator=gen, **DOUBLE) * 2 + 0.5).requires_grad_()
    weight, bias = random_params(shape[1], affine, gen)
    y, mean, wm = IterNormFunction.apply(x, weight, bias, d, T, 1e-3)
    y_ref, mean_ref, wm_ref = itn_reference(x, weight, bias, d, T, 1e-3)
    torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(mean, mean_ref.detach(), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(wm, wm_ref.detach(), rtol=1e-10, atol=1e-12)
    assert not mean.requires_grad and not wm.requires_grad
    assert_same_grads(y, y_ref, (x, weight, bias), torch.randn(y.shape, generator=gen, **DOUBLE))


def test_gradcheck_with_respect_to_input_weight_and_bias():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 6, 3, 2, generator=gen, **DOUBLE).requires_grad_()
    weight, bias = random_params(6, True, gen)
    assert torch.autograd.gradcheck(lambda *a: GroupWhiteningFunction.apply(*a, 3, 3, 1e-3), (x, weight, bias))
    assert torch.autograd.gradcheck(lambda *a: IterNormFunction.apply(*a, 3, 3, 1e-3)[0], (x, weight, bias))


@pytest.mark.parametrize('shape,groups', [((2, 128, 48, 48), 64), ((300, 64, 7, 7), 64)])
def test_gw_blocks_of_a_large_input(shape, groups):
    """Inputs larger than one block of the in-place whitening: several column blocks (2 images of 2304
    positions per slot) and several sample blocks (300 RoIs), ragged at the end."""
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(*shape, generator=gen, **DOUBLE).requires_grad_()
    weight, bias = random_params(shape[1], True, gen)
    y = GroupWhiteningFunction.apply(x, weight, bias, groups, 5, 1e-5)
    y_ref = gw_reference(x, weight, bias, groups, 5, 1e-5)
    torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-12)
    assert_same_grads(y, y_ref, (x, weight, bias), torch.randn(y.shape, generator=gen, **DOUBLE))


def test_itn_many_samples():
    """300 RoIs: the covariance sums over samples in chunks (ragged at the end)."""
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(300, 64, 3, 3, generator=gen, **DOUBLE).requires_grad_()
    weight, bias = random_params(64, True, gen)
    y = IterNormFunction.apply(x, weight, bias, 64, 5, 1e-5)[0]
    y_ref = itn_reference(x, weight, bias, 64, 5, 1e-5)[0]
    torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-12)
    assert_same_grads(y, y_ref, (x, weight, bias), torch.randn(y.shape, generator=gen, **DOUBLE))


@pytest.mark.parametrize('block', [1, 7, 100, 1 << 20])
@pytest.mark.parametrize('shared', ['none', 'samples', 'slots'])
@pytest.mark.parametrize('samples,slots', [(3, 4), (5, 2)])  # loops over samples, over slots
def test_blocked_matmul_sum(block, shared, samples, slots):
    gen = torch.Generator().manual_seed(block)
    data = torch.randn(samples, 8, 2, slots, 300, generator=gen, **DOUBLE)
    xc = data.transpose(1, 3)[:, :, :, 0]  # (samples, slots, 2, 300), unit stride along the last dim only
    other = torch.randn(samples, slots, 2, 300, generator=gen, **DOUBLE)
    mats_shape = {'none': (samples, slots), 'samples': (1, slots), 'slots': (samples, 1)}[shared]
    mats = torch.randn(*mats_shape, 2, 2, generator=gen, **DOUBLE)
    mats2 = torch.randn(samples, slots, 2, 2, generator=gen, **DOUBLE)
    shift = torch.randn(1, slots, 2, 1, generator=gen, **DOUBLE)
    expected = mats @ xc + mats2 @ other + shift
    out = torch.empty(samples, 2, slots, 300, **DOUBLE).transpose(1, 2)
    blocked_matmul_sum(out, [(mats, xc), (mats2, other)], shift, block=block)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    # in place, as the forward whitens the centred input
    expected = mats @ xc
    assert blocked_matmul_sum(xc, [(mats, xc)], block=block) is xc
    torch.testing.assert_close(xc, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('samples,slots', [(3, 4), (5, 2)])
def test_matmul_4d(samples, slots):
    gen = torch.Generator().manual_seed(samples)
    a = torch.randn(1, slots, 3, 4, generator=gen, **DOUBLE)
    b = torch.randn(samples, 5, slots, 4, generator=gen, **DOUBLE).permute(0, 2, 3, 1)  # (N, K, 4, 5) strided
    out = torch.empty(samples, 3, slots, 5, **DOUBLE).transpose(1, 2)
    matmul_4d(a, b, out=out)
    torch.testing.assert_close(out, a @ b, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------------------ what is saved
def saved_tensors(fn):
    """The tensors autograd keeps for backward while fn() runs, and fn's result."""
    saved = []

    def pack(t):
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return saved, out


@pytest.mark.parametrize('layer', [GroupWhitening(64, num_groups=16), IterNorm(64, group_size=16)],
                         ids=['GW', 'ItN'])
def test_only_the_input_and_small_matrices_are_saved(layer):
    """Of the input's size only the input itself is kept (not a centred copy, not the output, which an
    in-place ReLU may overwrite); everything else is (g, g) matrices and g-vectors, the Newton iterates
    included (they are recomputed)."""
    x = torch.randn(2, 64, 12, 12, requires_grad=True)
    saved, y = saved_tensors(lambda: layer(x))
    big = [t for t in saved if t.numel() >= x.numel()]
    assert len(big) == 1 and big[0].data_ptr() == x.data_ptr()
    assert all(t.data_ptr() != y.data_ptr() for t in saved)
    problems = 2 if isinstance(layer, GroupWhitening) else 64 // 16  # per sample for GW, per group for ItN
    small = sum(t.numel() for t in saved if t.numel() < x.numel())
    assert small <= 2 * problems * 16 * 16 + 2 * 64  # Σ and W (16×16 each), μ, γ


@pytest.mark.parametrize('layer', [GroupWhitening(8, num_groups=4), IterNorm(8, group_size=4)], ids=['GW', 'ItN'])
def test_in_place_relu_after_the_layer(layer):
    layer = layer.double()
    with torch.no_grad():
        layer.weight.uniform_(0.5, 1.5)
        layer.bias.uniform_(-0.5, 0.5)
    x = torch.randn(3, 8, 4, 4, **DOUBLE, requires_grad=True)
    F.relu(layer(x), inplace=True).square().sum().backward()
    x_ref = x.detach().clone().requires_grad_()
    if isinstance(layer, GroupWhitening):
        y_ref = gw_reference(x_ref, layer.weight, layer.bias, 4, layer.T, layer.eps)
    else:
        y_ref = itn_reference(x_ref, layer.weight, layer.bias, 4, layer.T, layer.eps)[0]
    F.relu(y_ref).square().sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize('layer', [GroupWhitening(8, num_groups=4), IterNorm(8, group_size=4)], ids=['GW', 'ItN'])
def test_double_backward_is_refused(layer):
    """The analytic backward is not itself differentiable (no use in detection training); asking for a
    second derivative is an error, not a silently wrong number."""
    x = torch.randn(2, 8, 3, 3, requires_grad=True)
    (grad_x, ) = torch.autograd.grad(layer(x).square().sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match='once_differentiable'):
        grad_x.sum().backward()


@pytest.mark.parametrize('layer', [GroupWhitening(8, num_groups=4), IterNorm(8, group_size=4)], ids=['GW', 'ItN'])
def test_backward_under_autocast_computes_in_float32(layer):
    x = torch.randn(2, 8, 5, 5)
    grad_out = torch.randn(2, 8, 5, 5)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        layer(x1).backward(grad_out)
    layer(x2).backward(grad_out)
    assert x1.grad.dtype == torch.float32
    torch.testing.assert_close(x1.grad, x2.grad, rtol=0, atol=0)


def test_itn_eval_is_the_running_affine_map():
    itn = IterNorm(8, group_size=4, momentum=0.5).double()
    with torch.no_grad():
        itn.weight.uniform_(0.5, 1.5)
        itn.bias.uniform_(-0.5, 0.5)
    itn(torch.randn(4, 8, 3, 3, **DOUBLE))
    itn.eval()
    x = torch.randn(2, 8, 3, 3, **DOUBLE)
    rows = x.transpose(0, 1).reshape(2, 4, -1)
    y = (itn.running_wm @ (rows - itn.running_mean)).reshape(8, 2, 3, 3).transpose(0, 1)
    torch.testing.assert_close(itn(x), channel_affine(y, itn.weight, itn.bias), rtol=1e-12, atol=1e-12)
