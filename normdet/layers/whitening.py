"""Whitening math shared by GW, ItN and SWBN.

All functions take batches of matrices: rows `xc` of shape (B, d, m) (B independent problems of d variables
observed m times, already centred) and covariances of shape (B, d, d).
"""
import torch
from torch import Tensor


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
    p = torch.eye(sigma.size(-1), dtype=sigma.dtype, device=sigma.device).expand_as(sigma)
    for _ in range(iterations):
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
