"""Math shared by the layers: the whitening of GW, ItN and SWBN, the one-pass batch statistics of BGN,
GNPlus and SWBN, and the views of a layer's input that every layer's math works on.

Layouts (views of a contiguous input, except where noted): an input (N, C, *spatial) with L = prod(spatial) is
seen as

* :func:`sample_rows` (N, g, (C/g)·L): each sample's g channel groups as rows (GW, BGN);
* :func:`channel_slots` (N, g, s, L) of those rows: the s = C/g channel slots of each row (GW's affine);
* :func:`grouped_channels` (N, C/d, d, L): groups of d channels, each sample's (d, L) block a
  matrix (ItN, SWBN).

Every layer's output is laid out as its input (contiguous or channels_last): the math works on these views
and returns to the input's shape by `view`, never by a transpose, because mmcv's RoIAlign reads a tensor's
storage as if it were contiguous whatever its strides.

The matrix functions take batches: rows `xc` of shape (B, d, m) (B independent problems of d variables
observed m times, already centred) and covariances of shape (B, d, d). The products over the input's size
(`matmul_4d`, `blocked_matmul_sum`) work on (N, K, r, L) views of a layer's input, N samples by K channel
slots (GW) or groups (ItN), and are what GW's and ItN's analytic backward is made of.
"""
from typing import Optional, Tuple

import torch
from torch import Tensor

# True while torch.compile traces the code that calls it, where the layers take a traceable form of a few steps
# (see blocked_matmul_sum). torch.compiler.is_compiling is in torch >= 2.3; the older torch that
# requirements/runtime.txt allows has no full-graph compile of these layers (False there).
is_compiling = getattr(getattr(torch, 'compiler', None), 'is_compiling', None) or (lambda: False)


def sample_rows(x: Tensor, groups: int) -> Tensor:
    """(N, C, *spatial) -> (N, groups, (C/groups)·prod(spatial)); works for N = 0 too.

    The row length is read from the flattened tensor rather than multiplied out of ``x.shape`` as Python
    ints, which a TorchScript trace (ONNX export) would freeze at the example input's size; -1 would be
    ambiguous for N = 0."""
    flat = x.flatten(1)
    return flat.view(flat.size(0), groups, flat.size(1) // groups)


def channel_slots(rows: Tensor, slots: int) -> Tensor:
    """(N, g, s·L) -> (N, g, s, L): a row's channel slots, each (N, g, L) slice a strided batch of matrices."""
    return rows.view(rows.size(0), rows.size(1), slots, -1)


def grouped_channels(x: Tensor, group_size: int) -> Tensor:
    """(N, C, *spatial) -> (N, C/d, d, prod(spatial)) for d = group_size, a view when x is contiguous."""
    return x.reshape(x.size(0), x.size(1) // group_size, group_size, -1)


def covariance(xc: Tensor, eps: float = 0.0) -> Tensor:
    """Σ = xc·xcᵀ/m + eps·I for centred rows xc of shape (B, d, m); returns (B, d, d)."""
    d, m = xc.shape[-2:]
    eye = torch.eye(d, dtype=xc.dtype, device=xc.device).expand(xc.size(0), d, d)
    return torch.baddbmm(eye, xc, xc.transpose(1, 2), beta=eps, alpha=1.0 / m)


def trace(sigma: Tensor) -> Tensor:
    """tr(Σ) of (B, d, d), shaped (B, 1, 1) for broadcasting."""
    return sigma.diagonal(dim1=-2, dim2=-1).sum(-1).view(-1, 1, 1)


def newton_schulz_whitening(sigma: Tensor, iterations: int) -> Tensor:
    """Approximate Σ^{-1/2} by the trace-normalised Newton iteration of IterNorm (Huang et al., 2019).

    Σ_N = Σ / tr(Σ); P_0 = I; P_{k+1} = 1.5·P_k − 0.5·P_k³·Σ_N for k < T; W = P_T / sqrt(tr(Σ)).
    Normalising by the trace puts every eigenvalue of Σ_N in (0, 1], where the iteration converges; a small
    T whitens only partially, by design (the papers use T = 5).

    Args:
        sigma: (B, d, d) symmetric positive semi-definite matrices with positive trace.
        iterations: T.
    Returns:
        W of shape (B, d, d).
    """
    tr = trace(sigma)
    sigma_n = sigma / tr
    eye = torch.eye(sigma.size(-1), dtype=sigma.dtype, device=sigma.device)
    if iterations == 0:
        return eye * tr.rsqrt()
    p = torch.sub(1.5 * eye, sigma_n, alpha=0.5)  # P_1, exactly: P_0 = I needs no matmul
    for _ in range(iterations - 1):
        p_cubed = torch.bmm(torch.bmm(p, p), p)
        p = torch.baddbmm(p, p_cubed, sigma_n, beta=1.5, alpha=-0.5)
    return p * tr.rsqrt()


def zca_whitening(sigma: Tensor) -> Tensor:
    """Exact Σ^{-1/2} = V·Λ^{-1/2}·Vᵀ by eigendecomposition, computed in float64.

    For analysis: eigendecomposition gradients are unstable where eigenvalues repeat, which is why the
    layers train with the Newton iteration. Eigenvalues below 1e-12 of the largest one count as zero, so a
    rank-deficient Σ gives the pseudo-inverse square root (whitening on Σ's range, zero off it).
    """
    evals, evecs = torch.linalg.eigh(sigma.double())
    floor = evals.amax(-1, keepdim=True) * 1e-12
    kept = evals > floor
    inv_sqrt = torch.where(kept, evals.clamp_min(torch.finfo(evals.dtype).tiny).rsqrt(), torch.zeros_like(evals))
    return ((evecs * inv_sqrt.unsqueeze(-2)) @ evecs.transpose(-1, -2)).to(sigma.dtype)


def newton_schulz_whitening_backward(sigma: Tensor, iterations: int, grad_wm: Tensor) -> Tensor:
    """dL/dΣ for W = :func:`newton_schulz_whitening` (Σ, T), given dL/dW; all shapes (B, d, d).

    The chain rule through the iteration read backwards, as the IterNorm paper derives it but without
    assuming symmetry, so that it equals autograd of the forward to rounding. With G = dL/dP_{k+1} and Q_k = P_k³:

        dL/dΣ_N += −½·Q_kᵀ·G,   dQ = −½·G·Σ_Nᵀ,
        dL/dP_k = 1.5·G + (P_k²)ᵀ·dQ + dQ·P_kᵀ·P_kᵀ + P_kᵀ·dQ·P_kᵀ,

    then through Σ_N = Σ/tr(Σ) and W = P_T/√tr(Σ). The iterates are recomputed from Σ rather than saved:
    that costs about one more forward iteration on (d, d) matrices and saves 3·T matrices per problem.
    """
    tr = trace(sigma)
    sigma_n = sigma / tr
    eye = torch.eye(sigma.size(-1), dtype=sigma.dtype, device=sigma.device)
    steps = []
    p = eye.expand_as(sigma)
    if iterations > 0:
        p = torch.sub(1.5 * eye, sigma_n, alpha=0.5)
    for _ in range(iterations - 1):
        p_squared = torch.bmm(p, p)
        p_cubed = torch.bmm(p_squared, p)
        steps.append((p, p_squared, p_cubed))
        p = torch.baddbmm(p, p_cubed, sigma_n, beta=1.5, alpha=-0.5)
    rsqrt_tr = tr.rsqrt()
    grad_p = grad_wm * rsqrt_tr
    grad_tr = (grad_wm * p).sum((-2, -1), keepdim=True) * (-0.5 * rsqrt_tr / tr)
    grad_sigma_n = torch.zeros_like(sigma)
    for p, p_squared, p_cubed in reversed(steps):
        grad_cubed = torch.bmm(grad_p, sigma_n.transpose(1, 2)).mul_(-0.5)
        grad_sigma_n.baddbmm_(p_cubed.transpose(1, 2), grad_p, alpha=-0.5)
        p_t = p.transpose(1, 2)
        grad_squared = torch.bmm(grad_cubed, p_t)
        grad_p = torch.baddbmm(grad_p, p_squared.transpose(1, 2), grad_cubed, beta=1.5)
        grad_p.baddbmm_(grad_squared, p_t).baddbmm_(p_t, grad_squared)
    if iterations > 0:  # P_1 = 1.5·I − 0.5·Σ_N
        grad_sigma_n.add_(grad_p, alpha=-0.5)
    grad_tr = grad_tr - (grad_sigma_n * sigma).sum((-2, -1), keepdim=True) / (tr * tr)
    grad_sigma = grad_sigma_n / tr
    grad_sigma.diagonal(dim1=-2, dim2=-1).add_(grad_tr.view(-1, 1))
    return grad_sigma


def _pick(t: Tensor, i: int, over_samples: bool, batch: int) -> Tensor:
    """Index i of dimension 0 (over_samples) or 1 of a 4-d tensor whose size-1 dimensions broadcast, as a
    3-d batch of `batch` matrices."""
    t = t[i if t.size(0) > 1 else 0] if over_samples else t[:, i if t.size(1) > 1 else 0]
    return t.expand((batch, ) + t.shape[1:])


def matmul_4d(a: Tensor, b: Tensor, out: Tensor) -> Tensor:
    """out[n, k] = a[n, k]·b[n, k] for (N, K, ·, ·) tensors (size-1 dimensions of `a` and `b` broadcast).

    Any of them may be a strided view, as long as each matrix has a unit stride in one of its two
    dimensions (BLAS's condition). One batched matmul per index of the shorter of N and K, batched over the
    other, so that neither many samples (RoIs) nor many slots or groups (wide layers) cost many calls.
    """
    if is_compiling():
        # torch.compile cannot trace `out=` writes into strided views (see blocked_matmul_sum): one matmul,
        # broadcast over N and K, copied into `out`.
        return out.copy_(torch.matmul(a, b))
    n, k = out.shape[:2]
    over_samples = n <= k
    batch = k if over_samples else n
    for i in range(n if over_samples else k):
        torch.bmm(*(_pick(t, i, over_samples, batch) for t in (a, b)), out=_pick(out, i, over_samples, batch))
    return out


def sum_over_samples(a: Tensor, b: Tensor, block: int = 1 << 20) -> Tensor:
    """Σ_n a_n·b_nᵀ for (N, G, d, L) tensors: (G, d, d). One batched matmul over samples and groups, in
    chunks of samples whose (G, d, d) products take at most about `block` elements (many RoIs)."""
    n, groups, d, length = a.shape
    chunk = max(1, block // (groups * d * d))
    total = None
    for s0 in range(0, n, chunk):
        s1 = min(s0 + chunk, n)
        prods = torch.bmm(a[s0:s1].reshape(-1, d, length), b[s0:s1].reshape(-1, d, length).transpose(1, 2))
        part = prods.view(s1 - s0, groups, d, d).sum(0)
        total = part if total is None else total.add_(part)
    return total


def grouped_affine_backward(grad4: Tensor, x4: Tensor, mean: Tensor, wm: Tensor, weight: Optional[Tensor],
                            column_scale: Optional[Tensor] = None):
    """The shared first part of ItN's and SWBN's backward for z = diag(γ)·W·x̃ + β over (N, G, d, L) views,
    x̃ = (x − μ)·s (s = ``column_scale``, (G, 1, d), or 1): r = Σ dz per channel, K = Σ_n dz_n·x̃_nᵀ
    (= (Σ_n dz_n·x_nᵀ − r·μᵀ)·diag(s), never forming x̃), γ as (G, d, 1), dγ_i = Σ_j W_ij·K_ij and dβ = r.

    Returns (r (G, d, 1), K (G, d, d), γ, dγ (C,), dβ (C,))."""
    groups, d = x4.shape[1:3]
    sums = grad4.sum((0, 3)).unsqueeze(-1)
    cross = sum_over_samples(grad4, x4).baddbmm_(sums, mean.view(groups, d, 1).transpose(1, 2), alpha=-1)
    if column_scale is not None:
        cross.mul_(column_scale)
    gamma = grad4.new_ones(groups, d, 1) if weight is None else weight.view(groups, d, 1)
    return sums, cross, gamma, (wm * cross).sum(-1).view(-1), sums.view(-1)


def blocked_matmul_sum(out: Tensor, terms, shift: Optional[Tensor] = None, block: Optional[int] = None) -> Tensor:
    """out[n, k] = Σ_t mats_t[n, k]·data_t[n, k] + shift[n, k] for every sample n and slot or group k, block
    by block through one small buffer.

    Args:
        out: (N, K, r, L), unit stride along L (other strides free, e.g. a transposed view). It may be one of
            the `data_t` (in place: each block is read before it is written).
        terms: pairs (mats_t, data_t) of (N, K, r, r) and (N, K, r, L) tensors; size-1 dimensions of mats_t
            broadcast (matrices shared across samples or slots).
        shift: broadcastable (N or 1, K or 1, r, 1), or None.
        block: elements per step; default 2^20 on CPU, 2^22 on GPUs (every step is a few kernel launches),
            and at most an eighth of the output (but 2^15 at least).
    Returns:
        out.

    Why blocks: the sum of products and the shift are formed in a cache-sized buffer and written once, so
    the output costs one write and no full-size temporary; in place, the whitened output takes the centred
    input's memory (on CPU a fresh full-size allocation also faults in every page of it).
    """
    if is_compiling():
        # torch.compile refuses `out=` writes into non-contiguous views (the blocks of a transposed or sliced
        # `out`), and in a traced autograd.Function backward it dropped some of them silently (an output left
        # partly as torch.empty's garbage). Compiled, the sum is formed out of place, broadcast over N and K,
        # and copied into `out` once (the compiler plans the memory the blocks save in eager mode).
        acc = None
        for mats, data in terms:
            prod = torch.matmul(mats, data)
            acc = prod if acc is None else acc + prod
        return out.copy_(acc if shift is None else acc + shift)
    if block is None:
        # At most an eighth of the output, so that the buffer stays small next to it on small inputs too.
        block = min(1 << 20 if out.device.type == 'cpu' else 1 << 22, max(out.numel() // 8, 1 << 15))
    n, k, r, length = out.shape
    over_samples = n <= k  # as matmul_4d: loop over the shorter of N and K, batch the other
    batch = k if over_samples else n
    cols = min(length, max(block // (batch * r), 256))
    count = min(batch, max(1, block // (r * cols)))
    buf = out.new_empty(count * r * cols)
    for i in range(n if over_samples else k):
        dst = _pick(out, i, over_samples, batch)
        parts = [(_pick(mats, i, over_samples, batch), _pick(data, i, over_samples, batch)) for mats, data in terms]
        shift_i = None if shift is None else _pick(shift, i, over_samples, batch)
        for s0 in range(0, batch, count):
            s1 = min(s0 + count, batch)
            for c0 in range(0, length, cols):
                part = dst[s0:s1, :, c0:c0 + cols]
                acc = buf[:part.numel()].view(part.shape)
                for t, (mats, data) in enumerate(parts):
                    if t == 0:
                        torch.bmm(mats[s0:s1], data[s0:s1, :, c0:c0 + cols], out=acc)
                    else:
                        acc.baddbmm_(mats[s0:s1], data[s0:s1, :, c0:c0 + cols])
                if shift_i is None:
                    part.copy_(acc)
                else:
                    torch.add(acc, shift_i[s0:s1], out=part)
    return out


# ------------------------------------------------------------------------------------- batch statistics
# BGN, GNPlus and SWBN take per-channel (or per sample and channel) sums with torch's fused batch-norm
# backward kernel: for (dy, x) it returns Σ dy·(x − μ)·r and Σ dy per channel in one pass over both, with
# no temporary, for any layout; torch.var_mean over the same dimensions is 10x slower on CPU.


def reduced_dims(x: Tensor) -> Tuple[int, ...]:
    """Every dimension of (N, C, *spatial) but the channels: those a per-channel statistic reduces."""
    return (0, ) + tuple(range(2, x.dim()))


def channel_dot(dy: Tensor, x: Tensor, mean: Tensor, invstd: Tensor) -> Tuple[Tensor, Tensor]:
    """Σ dy·(x − mean_c)·invstd_c and Σ dy over every dimension but 1, for (N, C, *spatial) tensors of one
    layout and (C,) statistics; both (C,)."""
    if dy.numel() == 0:  # the kernel divides by the count (SIGFPE on CPU for integer 0)
        zeros = dy.new_zeros(dy.size(1))
        return zeros, zeros.clone()
    if torch.jit.is_tracing():  # the tracer cannot record the kernel's bool[3] argument (FLOP counting)
        shape = (1, -1) + (1, ) * (dy.dim() - 2)
        dims = reduced_dims(dy)
        return (dy * (x - mean.view(shape)) * invstd.view(shape)).sum(dims), dy.sum(dims)
    _, dot, total = torch.ops.aten.native_batch_norm_backward(dy, x, None, None, None, mean, invstd, True, 0.0,
                                                              [False, True, True])
    return dot, total


def channel_moments(x: Tensor) -> Tuple[int, Tensor, Tensor]:
    """(n, μ, M2) of each channel of (N, C, *spatial): the n values' mean and their sum of squared deviations
    from it, (C,) each, in one pass over x.

    With K one value of each channel (the first position of the first sample), the kernel gives Σx and
    Σ x·(x − K) = M2 + μ·Σx − K·Σx: the data shifted by one of its own values, so that the rounding error
    grows as ε·|μ|/σ (for K within a few σ of μ), not as ε·μ²/σ² for Σx² − n·μ²."""
    count = x.numel() // max(x.size(1), 1)
    if count == 0:
        zeros = x.new_zeros(x.size(1))
        return 0, zeros, zeros.clone()
    # x[0, :, 0, ...] as one strided view, whatever the layout: indexing would take a call per dimension.
    shift = x.as_strided((x.size(1), ), (x.stride(1), ))
    cross, total = channel_dot(x, x, shift, x.new_ones(x.size(1)))
    mean = total / count
    return count, mean, torch.addcmul(cross, total, mean - shift, value=-1)


def group_to_channels(stats: Tensor, channels: int) -> Tensor:
    """(..., G) statistics of channel groups -> (..., C): each group's value repeated for its C/G channels,
    contiguous (torch's CPU BatchNorm kernels misread a stride-0 expanded vector)."""
    return stats.repeat_interleave(channels // stats.size(-1), dim=-1, output_size=channels)


def pooled_moments(count, mean: Tensor, m2: Tensor, parts: int) -> Tuple[object, Tensor, Tensor]:
    """Moments of `parts` equal runs of the last dimension taken together (Chan et al.'s parallel formula):
    (n, μ, M2) of shape (..., K) with n values each -> (k·n, μ, M2) of shape (..., K/k), k = K/parts."""
    mean = mean.unflatten(-1, (parts, -1))
    pooled = mean.mean(-1)
    deviation = mean - pooled.unsqueeze(-1)
    m2 = (m2.unflatten(-1, (parts, -1)) + count * deviation * deviation).sum(-1)
    return count * mean.size(-1), pooled, m2
