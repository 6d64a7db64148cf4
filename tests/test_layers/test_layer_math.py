"""Each layer against an independent float64 re-derivation of its paper's math (tests/layer_references.py:
written from the papers' formulas with plain loops and numpy/torch.linalg, sharing no code with normdet) and
against torch's own layers at the equivalence points."""
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from normdet.layers import (BatchGroupNorm, GroupNormPlus, GroupWhitening, IterNorm, NormConfigError,
                            StochasticWhiteningBN, resolve_group_size)

from layer_references import (DOUBLE, authors_gnplus, inverse_sqrt_eig, reference_bgn, reference_gw, reference_itn,
                              reference_swbn)

torch.manual_seed(0)


def randn(*shape, scale=1.0, requires_grad=False):
    x = (torch.randn(*shape, **DOUBLE) * scale + 0.3).requires_grad_(requires_grad)
    return x


# ----------------------------------------------------------------------------------------------- GW
@pytest.mark.parametrize('shape,groups', [((3, 16, 5, 4), 4), ((2, 12, 7), 3), ((4, 8), 2), ((2, 8, 3, 2, 2), 2)])
@pytest.mark.parametrize('eps', [0.0, 1e-5])
def test_gw_matches_official_group_itn(shape, groups, eps):
    x = randn(*shape, requires_grad=True)
    gw = GroupWhitening(shape[1], num_groups=groups, T=5, eps=eps, affine=False).double()
    y = gw(x)
    x_ref = x.detach().clone().requires_grad_(True)
    y_ref = reference_gw(x_ref, groups, 5, eps)
    torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-10)
    grad_out = torch.randn_like(y)
    (gx, ) = torch.autograd.grad(y, x, grad_out)
    (gx_ref, ) = torch.autograd.grad(y_ref, x_ref, grad_out)
    torch.testing.assert_close(gx, gx_ref, rtol=1e-8, atol=1e-10)


def test_gw_one_group_is_groupnorm_1():
    x = randn(3, 10, 6, 5)
    gw = GroupWhitening(10, num_groups=1, eps=1e-5).double()
    gn = nn.GroupNorm(1, 10, eps=1e-5).double()
    with torch.no_grad():
        for layer in (gw, gn):
            layer.weight.uniform_(0.5, 1.5)
            layer.bias.uniform_(-1, 1)
        gn.weight.copy_(gw.weight)
        gn.bias.copy_(gw.bias)
    torch.testing.assert_close(gw(x), gn(x), rtol=1e-10, atol=1e-10)


def test_gw_zca_whitens_exactly_and_newton_converges_to_it():
    x = randn(2, 8, 6, 6)
    zca = GroupWhitening(8, num_groups=4, eps=0.0, affine=False, whitening='zca').double()
    y = zca(x)
    for n in range(2):
        rows = y[n].reshape(4, -1)
        cov = rows @ rows.T / rows.shape[1]
        torch.testing.assert_close(cov, torch.eye(4, **DOUBLE), rtol=0, atol=1e-10)
        # ZCA against numpy's eigendecomposition.
        r = x[n].reshape(4, -1).numpy()
        rc = r - r.mean(1, keepdims=True)
        expected = inverse_sqrt_eig(rc @ rc.T / rc.shape[1]) @ rc
        np.testing.assert_allclose(rows.numpy(), expected, rtol=1e-9, atol=1e-9)
    newton = GroupWhitening(8, num_groups=4, T=60, eps=0.0, affine=False).double()
    torch.testing.assert_close(newton(x), y, rtol=1e-6, atol=1e-6)


def test_gw_partial_whitening_at_t5_is_by_design():
    """T = 5 moves the group covariance towards I without reaching it (the paper's operating point)."""
    x = randn(1, 64, 8, 8) @ torch.randn(8, 8, **DOUBLE)
    y = GroupWhitening(64, num_groups=16, T=5, eps=0.0, affine=False).double()(x)
    rows = y[0].reshape(16, -1)
    evals = torch.linalg.eigvalsh(rows @ rows.T / rows.shape[1])
    assert evals.max() <= 1.0 + 1e-9 and evals.min() > 0.01


def test_gw_group_arguments():
    assert GroupWhitening(16, num_groups=64).num_groups == 16  # clipped to C, as the official code
    assert GroupWhitening(64, num_channels=4).num_groups == 16
    assert GroupWhitening(64, group_size=4).num_groups == 16
    with pytest.raises(ValueError, match=r"num_groups=64 does not divide its 96 channels"):
        GroupWhitening(96, num_groups=64)


# ---------------------------------------------------------------------------------------------- BGN
def test_bgn_matches_definition_and_running_stats():
    x = randn(3, 12, 5, 4, requires_grad=True)
    bgn = BatchGroupNorm(12, num_groups=4, momentum=0.3, affine=False).double()
    y = bgn(x)
    y_ref, mean, var, count = reference_bgn(x, 4, bgn.eps)
    torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(bgn.running_mean.numpy(), 0.3 * mean, rtol=1e-10)
    np.testing.assert_allclose(bgn.running_var.numpy(), 0.7 + 0.3 * var * count / (count - 1), rtol=1e-10)
    bgn.eval()
    rm, rv = bgn.running_mean.numpy(), bgn.running_var.numpy()
    expected = (x.detach().numpy().reshape(3, 4, -1) - rm[None, :, None]) / np.sqrt(rv[None, :, None] + bgn.eps)
    np.testing.assert_allclose(bgn(x).detach().numpy(), expected.reshape(x.shape), rtol=1e-10)


@pytest.mark.parametrize('momentum', [0.1, None])
def test_bgn_with_g_equal_c_is_batchnorm2d(momentum):
    bgn = BatchGroupNorm(6, num_groups=6, momentum=momentum).double()
    bn = nn.BatchNorm2d(6, momentum=momentum).double()
    with torch.no_grad():
        bgn.weight.uniform_(0.5, 1.5)
        bgn.bias.uniform_(-1, 1)
        bn.weight.copy_(bgn.weight)
        bn.bias.copy_(bgn.bias)
    for step in range(3):
        x = randn(4, 6, 5, 3, scale=step + 1)
        x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
        y1, y2 = bgn(x1), bn(x2)
        torch.testing.assert_close(y1, y2, rtol=1e-10, atol=1e-10)
        g = torch.randn_like(y1)
        y1.backward(g)
        y2.backward(g)
        torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-8, atol=1e-10)
        torch.testing.assert_close(bgn.weight.grad, bn.weight.grad, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(bgn.running_mean, bn.running_mean, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(bgn.running_var, bn.running_var, rtol=1e-10, atol=1e-12)
    assert int(bgn.num_batches_tracked) == int(bn.num_batches_tracked) == 3
    bgn.eval(), bn.eval()
    x = randn(2, 6, 4, 4)
    torch.testing.assert_close(bgn(x), bn(x), rtol=1e-10, atol=1e-10)


# ------------------------------------------------------------------------------------------- GNPlus
def test_gnplus_channel_mode_matches_gn_then_bn():
    gnp = GroupNormPlus(8, num_groups=2, momentum=0.2).double()
    with torch.no_grad():
        gnp.mix_logit.fill_(0.4)
        gnp.weight.uniform_(0.5, 1.5)
        gnp.bias.uniform_(-1, 1)
    gn = nn.GroupNorm(2, 8, affine=False).double()
    bn = nn.BatchNorm2d(8, affine=False, momentum=0.2).double()
    w = torch.sigmoid(torch.tensor(0.4, **DOUBLE))

    def expected(x):
        x_gn = gn(x)
        mixed = w * x_gn + (1 - w) * bn(x_gn)
        return mixed * gnp.weight.view(1, -1, 1, 1) + gnp.bias.view(1, -1, 1, 1)

    for _ in range(2):
        x = randn(3, 8, 4, 5, requires_grad=True)
        x_ref = x.detach().clone().requires_grad_()
        y, y_ref = gnp(x), expected(x_ref)
        torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-10)
        g = torch.randn_like(y)
        torch.testing.assert_close(torch.autograd.grad(y, x, g)[0], torch.autograd.grad(y_ref, x_ref, g)[0],
                                   rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(gnp.running_mean, bn.running_mean)
    torch.testing.assert_close(gnp.running_var, bn.running_var)
    gnp.eval(), bn.eval()
    x = randn(1, 8, 4, 5)  # one image: the detection case
    torch.testing.assert_close(gnp(x), expected(x), rtol=1e-10, atol=1e-10)


def test_gnplus_position_mode_is_the_authors_form():
    gnp = GroupNormPlus(6, num_groups=3, affine=False, batch_stats='position').double()
    x = randn(4, 6, 3, 3)
    a = F.group_norm(x, 3, eps=gnp.eps).numpy()
    x_bn = (a - a.mean(0, keepdims=True)) / np.sqrt(a.var(0, keepdims=True) + gnp.eps)
    w = 1 / (1 + np.exp(-1.0))  # λ starts at 1
    np.testing.assert_allclose(gnp(x).detach().numpy(), w * a + (1 - w) * x_bn, rtol=1e-10, atol=1e-12)
    assert gnp.running_mean is None
    with pytest.raises(ValueError, match=r"at least 2 samples.*batch_stats='channel'"):
        gnp(x[:1])


@pytest.mark.parametrize('batch_stats,batch_dims', [('position', (0, )), ('channel', (0, 2, 3))])
def test_gnplus_std_denominator_is_the_authors_formula(batch_stats, batch_dims):
    gnp = GroupNormPlus(6, num_groups=3, affine=False, batch_stats=batch_stats, denominator='std',
                        momentum=None).double()
    with torch.no_grad():
        gnp.mix_logit.fill_(0.3)
    seen = []
    for _ in range(2):
        x = randn(2, 6, 3, 4, requires_grad=True)  # 2 images: where the two conventions part most
        x_ref = x.detach().clone().requires_grad_()
        y, (y_ref, x_gn) = gnp(x), authors_gnplus(x_ref, 3, 0.3, gnp.eps, batch_dims)
        torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-10)
        g = torch.randn_like(y)
        torch.testing.assert_close(torch.autograd.grad(y, x, g)[0], torch.autograd.grad(y_ref, x_ref, g)[0],
                                   rtol=1e-8, atol=1e-10)
        seen.append(x_gn.detach())
    if batch_stats == 'channel':  # eval: (x_gn − running mean) / (√running variance + eps), cumulative average
        stacked = [v.transpose(0, 1).reshape(6, -1) for v in seen]
        mean = sum(v.mean(1) for v in stacked) / 2
        var = sum(v.var(1) for v in stacked) / 2
        gnp.eval()
        x = randn(1, 6, 3, 4)
        _, x_gn = authors_gnplus(x, 3, 0.3, gnp.eps, batch_dims)
        shape = (1, 6, 1, 1)
        x_bn = (x_gn - mean.view(shape)) / (var.sqrt().view(shape) + gnp.eps)
        w = torch.sigmoid(torch.tensor(0.3, **DOUBLE))
        torch.testing.assert_close(gnp(x), w * x_gn + (1 - w) * x_bn, rtol=1e-10, atol=1e-10)
    # The default convention differs here (m = 2 values per statistic of the batch part).
    default = GroupNormPlus(6, num_groups=3, affine=False, batch_stats=batch_stats).double()
    with torch.no_grad():
        default.mix_logit.fill_(0.3)
    x = randn(2, 6, 3, 4)
    assert not torch.allclose(default(x), authors_gnplus(x, 3, 0.3, gnp.eps, batch_dims)[0], atol=1e-3)


def test_gnplus_large_lambda_is_groupnorm():
    gnp = GroupNormPlus(8, num_groups=4).double()
    gn = nn.GroupNorm(4, 8).double()
    with torch.no_grad():
        gnp.mix_logit.fill_(100.0)
    x = randn(2, 8, 5, 5)
    torch.testing.assert_close(gnp(x), gn(x), rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------------------------------------- ItN
@pytest.mark.parametrize('shape,d', [((4, 8, 3, 3), 4), ((6, 6), 3), ((3, 4, 5), 4)])
def test_itn_matches_iternorm_paper(shape, d):
    x = randn(*shape, requires_grad=True)
    itn = IterNorm(shape[1], group_size=d, T=5, momentum=0.25, affine=False).double()
    y = itn(x)
    x_ref = x.detach().clone().requires_grad_()
    y_ref, mean, wm = reference_itn(x_ref, d, 5, itn.eps)
    torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-10)
    g = torch.randn_like(y)
    torch.testing.assert_close(torch.autograd.grad(y, x, g)[0], torch.autograd.grad(y_ref, x_ref, g)[0],
                               rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(itn.running_mean, 0.25 * mean.detach())
    eye = torch.eye(d, **DOUBLE).expand_as(wm)
    torch.testing.assert_close(itn.running_wm, 0.75 * eye + 0.25 * wm.detach())
    itn.eval()
    x2 = randn(*shape)
    expected = torch.empty_like(x2)
    for i, start in enumerate(range(0, shape[1], d)):
        rows = x2[:, start:start + d].transpose(0, 1).reshape(d, -1)
        out = itn.running_wm[i] @ (rows - itn.running_mean[i])
        expected[:, start:start + d] = out.reshape((d, shape[0]) + tuple(shape[2:])).transpose(0, 1)
    torch.testing.assert_close(itn(x2), expected, rtol=1e-10, atol=1e-10)


def test_itn_one_channel_per_group_is_batchnorm_in_training():
    x = randn(4, 6, 5, 5)
    itn = IterNorm(6, group_size=1).double()
    bn = nn.BatchNorm2d(6).double()
    torch.testing.assert_close(itn(x), bn(x), rtol=1e-10, atol=1e-10)


def test_group_size_halves_like_official_iternorm():
    assert resolve_group_size(256, 64) == 64
    assert resolve_group_size(96, 64) == 32
    assert resolve_group_size(48, 64) == 16
    assert resolve_group_size(3, 64) == 1


@pytest.mark.parametrize('cls', [GroupWhitening, IterNorm, StochasticWhiteningBN])
def test_num_channels_is_the_authors_name_for_group_size(cls):
    by_alias, by_name = cls(16, num_channels=4), cls(16, group_size=4)
    assert by_alias.group_size == by_alias.num_channels == by_name.num_channels == 4
    assert by_alias.num_groups == by_name.num_groups == 4
    assert 'group_size=4' in repr(by_name)
    assert cls(16, group_size=4, num_channels=4).group_size == 4
    with pytest.raises(NormConfigError, match=r'group_size=4 and num_channels=8 disagree'):
        cls(16, group_size=4, num_channels=8)
    with pytest.raises(AttributeError):
        by_name.num_channels = 8  # read-only: the layer's buffers are sized by it


def test_num_channels_configs_build_through_mmcv():
    from mmcv.cnn import build_norm_layer

    import normdet  # noqa: F401
    for norm_type in ('ItN', 'SWBN'):
        layer = build_norm_layer(dict(type=norm_type, num_channels=64), 96)[1]
        assert layer.group_size == 32 and layer.num_groups == 3
    assert build_norm_layer(dict(type='GW', num_channels=4), 64)[1].num_groups == 16


def test_whitened_dim_is_the_size_of_the_matrices_newton_whitens():
    gw, itn = GroupWhitening(256, num_groups=64), IterNorm(96, group_size=64)
    assert (gw.whitened_dim, gw.whitens_each_sample) == (64, True)  # g×g per sample
    assert (itn.whitened_dim, itn.whitens_each_sample) == (32, False)  # d×d per group, over the batch
    for layer in (BatchGroupNorm(8, num_groups=4), GroupNormPlus(8, num_groups=4), StochasticWhiteningBN(8)):
        assert layer.whitened_dim is None and layer.whitens_each_sample is None


# --------------------------------------------------------------------------------------------- SWBN
def test_swbn_without_whitening_steps_is_batchnorm2d():
    swbn = StochasticWhiteningBN(8, group_size=4, whitening_lr=0.0, momentum=0.1).double()
    bn = nn.BatchNorm2d(8, momentum=0.1).double()
    for _ in range(3):
        x = randn(3, 8, 4, 4)
        x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
        y1, y2 = swbn(x1), bn(x2)
        torch.testing.assert_close(y1, y2, rtol=1e-12, atol=1e-12)
        g = torch.randn_like(y1)
        y1.backward(g), y2.backward(g)
        torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(swbn.running_var, bn.running_var)
    swbn.eval(), bn.eval()
    x = randn(2, 8, 3, 3)
    torch.testing.assert_close(swbn(x), bn(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('symmetrize', [True, False])
@pytest.mark.parametrize('criterion', ['kl', 'fro'])
def test_swbn_whitening_step_matches_its_criterion(criterion, symmetrize):
    swbn = StochasticWhiteningBN(4, group_size=4, whitening_lr=0.05, criterion=criterion, affine=False,
                                 symmetrize=symmetrize).double()
    w0 = torch.eye(4, **DOUBLE) + 0.1 * torch.randn(4, 4, **DOUBLE)
    swbn.whitening_matrix.copy_(w0.unsqueeze(0))
    x = randn(64, 4) @ torch.randn(4, 4, **DOUBLE)
    y = swbn(x)
    y_ref, w_new = reference_swbn(x, 4, w0.numpy()[None], 0.05, criterion, symmetrize, swbn.eps)
    np.testing.assert_allclose(swbn.whitening_matrix.numpy(), w_new, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(y.numpy(), y_ref.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize('criterion,lr,steps,tolerance', [('kl', 0.1, 150, 0.1), ('fro', 0.1, 400, 0.35)])
def test_swbn_training_steps_whiten_a_stationary_input(criterion, lr, steps, tolerance):
    """Distance of WΣWᵀ from I for the population Σ of the standardised input, over the last 20 of `steps`
    fresh batches. The Frobenius step has a length of about `lr` whatever the distance (it is divided by
    ‖I − WΣWᵀ‖), so it hovers at a distance set by the rate instead of converging."""
    gen = torch.Generator().manual_seed(1)
    mixing = torch.eye(8, **DOUBLE) + 0.4 * torch.randn(8, 8, generator=gen, **DOUBLE)
    sigma = mixing @ mixing.T
    sigma = sigma / torch.outer(sigma.diagonal(), sigma.diagonal()).sqrt()
    swbn = StochasticWhiteningBN(8, group_size=8, whitening_lr=lr, criterion=criterion, affine=False).double()

    def distance():
        w = swbn.whitening_matrix[0]
        return float(torch.linalg.matrix_norm(w @ sigma @ w.T - torch.eye(8, **DOUBLE)))

    start, distances = distance(), []
    for _ in range(steps):
        swbn(torch.randn(4096, 8, generator=gen, **DOUBLE) @ mixing.T)
        distances.append(distance())
    assert max(distances[-20:]) < tolerance < 0.15 * start
    assert torch.equal(swbn.whitening_matrix, swbn.whitening_matrix.transpose(1, 2))


def test_swbn_symmetric_steps_reach_the_zca_matrix_and_unsymmetrized_ones_keep_a_rotated_one():
    """WΣWᵀ = I holds for every QΣ^{-1/2}, Q orthogonal, so without symmetrising a rotated whitening matrix
    is a fixed point; kept symmetric and started at I, W goes to Σ^{-1/2} (ZCA) itself."""
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2048, 4, generator=gen, **DOUBLE) @ (torch.eye(4, **DOUBLE)
                                                          + 0.3 * torch.randn(4, 4, generator=gen, **DOUBLE)).T
    a = x.numpy()
    x_hat = (a - a.mean(0)) / np.sqrt(a.var(0) + 1e-5)
    evals, evecs = np.linalg.eigh(x_hat.T @ x_hat / len(a))
    zca = evecs @ np.diag(evals ** -0.5) @ evecs.T
    symmetric = StochasticWhiteningBN(4, group_size=4, whitening_lr=0.2, affine=False).double()
    for _ in range(200):
        symmetric(x)
    np.testing.assert_allclose(symmetric.whitening_matrix[0].numpy(), zca, atol=1e-10)
    rotated = np.linalg.qr(np.random.default_rng(0).standard_normal((4, 4)))[0] @ zca
    drifting = StochasticWhiteningBN(4, group_size=4, whitening_lr=0.2, affine=False, symmetrize=False).double()
    drifting.whitening_matrix.copy_(torch.from_numpy(rotated).unsqueeze(0))
    for _ in range(200):
        drifting(x)
    np.testing.assert_allclose(drifting.whitening_matrix[0].numpy(), rotated, atol=1e-10)


def test_swbn_whitening_stats_are_the_criteria_of_the_last_batch():
    """KL and Frobenius criteria of M = WΣWᵀ from M's eigenvalues (Σ from the input by numpy), cond(W) from
    W's singular values; None before a step, after reset_running_stats and with whitening_lr=0."""
    swbn = StochasticWhiteningBN(8, group_size=4, whitening_lr=0.3, affine=False).double()
    assert swbn.whitening_stats() is None
    mixing = torch.eye(8, **DOUBLE) + 0.5 * torch.randn(8, 8, **DOUBLE)
    for _ in range(3):
        x = (randn(16, 8, 5) .transpose(1, 2) @ mixing.T).transpose(1, 2)
        swbn(x)
    a = x.transpose(1, 2).reshape(-1, 8).numpy()
    x_hat = (a - a.mean(0)) / np.sqrt(a.var(0) + swbn.eps)
    stats = swbn.whitening_stats()
    for g in range(2):
        block = x_hat[:, 4 * g:4 * g + 4]
        sigma = (block - block.mean(0)).T @ (block - block.mean(0)) / len(block)
        w = swbn.whitening_matrix[g].numpy()
        lam = np.linalg.eigvalsh(w @ sigma @ w.T)
        np.testing.assert_allclose(stats['kl'][g].item(), 0.5 * np.sum(lam - np.log(lam) - 1), rtol=1e-9)
        np.testing.assert_allclose(stats['fro'][g].item(), 0.5 * np.sqrt(np.sum((1 - lam) ** 2)), rtol=1e-9)
        singular = np.linalg.svd(w, compute_uv=False)
        np.testing.assert_allclose(stats['cond'][g].item(), singular[0] / singular[-1], rtol=1e-9)
    assert stats['kl'].dtype == torch.float64 and stats['kl'].shape == (2, )
    assert all(torch.isfinite(v).all() and (v >= 0).all() for v in stats.values())
    swbn.reset_running_stats()
    assert swbn.whitening_stats() is None
    off = StochasticWhiteningBN(8, group_size=4, whitening_lr=0.0)
    off(torch.randn(4, 8, 3, 3))
    assert off.whitening_stats() is None
    assert 'last_covariance' not in dict(swbn.state_dict())


def test_swbn_whitening_stats_kl_is_inf_for_a_singular_covariance():
    swbn = StochasticWhiteningBN(4, group_size=4, whitening_lr=0.1, affine=False).double()
    x = randn(32, 1).repeat(1, 4) + 1e-3 * torch.arange(4, **DOUBLE)  # 4 equal channels: Σ of rank 1
    swbn(x)
    stats = swbn.whitening_stats()
    assert torch.isinf(stats['kl']).all() and torch.isfinite(stats['fro']).all()


# --------------------------------------------------------------------------------------- gradcheck
def _gradcheck_layers():
    swbn = StochasticWhiteningBN(6, group_size=3, whitening_lr=0.0)
    swbn.whitening_matrix.add_(0.1 * torch.randn_like(swbn.whitening_matrix))
    return [
        GroupWhitening(6, num_groups=3, T=3),
        GroupWhitening(6, num_groups=2, T=3, whitening='zca'),
        BatchGroupNorm(6, num_groups=3),
        GroupNormPlus(6, num_groups=2),
        GroupNormPlus(6, num_groups=3, batch_stats='position'),
        IterNorm(6, group_size=3, T=3),
        swbn,
    ]


@pytest.mark.parametrize('layer', _gradcheck_layers(), ids=lambda m: type(m).__name__)
def test_gradcheck(layer):
    layer = layer.double()
    with torch.no_grad():
        layer.weight.uniform_(0.5, 1.5)
        layer.bias.uniform_(-0.5, 0.5)
    x = randn(3, 6, 3, 2, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x, ), eps=1e-6, atol=1e-5, rtol=1e-4)
    layer.eval()
    assert torch.autograd.gradcheck(layer, (x, ), eps=1e-6, atol=1e-5, rtol=1e-4)

