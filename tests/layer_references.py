"""Independent float64 re-derivations of the layers' training math, written from the papers' formulas with
plain loops and numpy/torch.linalg and sharing no code with normdet: what ``test_layers/test_layer_math.py``
checks each layer against on chosen inputs and ``test_layers/test_layer_fuzz.py`` on generated ones. Each
returns the output before the affine."""
import numpy as np
import torch

DOUBLE = dict(dtype=torch.float64)


def newton_inverse_sqrt(sigma, T):
    """IterNorm's Newton iteration for one matrix, written from the paper's Algorithm 1."""
    tr = torch.trace(sigma)
    sigma_n = sigma / tr
    p = torch.eye(sigma.shape[0], **DOUBLE)
    for _ in range(T):
        p = 1.5 * p - 0.5 * torch.linalg.matrix_power(p, 3) @ sigma_n
    return p / torch.sqrt(tr)


def reference_gw(x, groups, T, eps):
    """The authors' GroupItN, per sample: rows of channel groups, Σ over (C/g)·HW, Newton whitening."""
    out = []
    for sample in x:
        rows = sample.reshape(groups, -1)
        xc = rows - rows.mean(1, keepdim=True)
        sigma = xc @ xc.T / rows.shape[1] + eps * torch.eye(groups, **DOUBLE)
        out.append((newton_inverse_sqrt(sigma, T) @ xc).reshape(sample.shape))
    return torch.stack(out)


def reference_itn(x, d, T, eps):
    """IterNorm in training: per group of d channels, statistics over batch and positions."""
    n, c = x.shape[:2]
    out = torch.empty_like(x)
    means, wms = [], []
    for start in range(0, c, d):
        rows = x[:, start:start + d].transpose(0, 1).reshape(d, -1)
        mean = rows.mean(1, keepdim=True)
        xc = rows - mean
        wm = newton_inverse_sqrt(xc @ xc.T / rows.shape[1] + eps * torch.eye(d, **DOUBLE), T)
        out[:, start:start + d] = (wm @ xc).reshape((d, n) + x.shape[2:]).transpose(0, 1)
        means.append(mean)
        wms.append(wm)
    return out, torch.stack(means), torch.stack(wms)


def reference_bgn(x, groups, eps):
    """BGN in training from its definition, in numpy."""
    a = x.detach().numpy()
    n = a.shape[0]
    rows = a.reshape(n, groups, -1)
    mean = rows.mean(axis=(0, 2))
    var = rows.var(axis=(0, 2))
    y = (rows - mean[None, :, None]) / np.sqrt(var[None, :, None] + eps)
    return torch.from_numpy(y.reshape(a.shape)), mean, var, n * rows.shape[2]


def inverse_sqrt_eig(sigma):
    evals, evecs = np.linalg.eigh(sigma)
    return evecs @ np.diag(evals**-0.5) @ evecs.T


def authors_gnplus(x, num_groups, lam, eps, batch_dims):
    """GN+ as the authors' GNPlusSequentialGNFirst computes it: (x − mean) / (unbiased std + eps) for the
    groups and then over `batch_dims` of the GN output; re-derived with torch's std (unbiased)."""
    n, c = x.shape[:2]
    rows = x.reshape(n, num_groups, -1)
    x_gn = ((rows - rows.mean(2, keepdim=True)) / (rows.std(2, keepdim=True) + eps)).reshape(x.shape)
    x_bn = (x_gn - x_gn.mean(batch_dims, keepdim=True)) / (x_gn.std(batch_dims, keepdim=True) + eps)
    w = torch.sigmoid(torch.as_tensor(lam, dtype=x.dtype))
    return w * x_gn + (1 - w) * x_bn, x_gn


def reference_swbn(x, group_size, w0, lr, criterion, symmetrize, eps):
    """One SWBN training step from the paper's criteria, in numpy: x̂ standardised per channel over the batch
    and positions; for each group of d channels, Σ of its x̂, the step on W from `w0` ((C/d, d, d)),

        kl:  W ← W − lr·(WΣWᵀ − I)·W,    fro:  W ← W − lr·(WΣWᵀ − I)·W·Σ / ‖WΣWᵀ − I‖_F,

    then W ← (W + Wᵀ)/2 if `symmetrize`, and y = W·x̂. Returns y (x's shape) and the new W."""
    a = x.detach().numpy()
    c = a.shape[1]
    columns = np.moveaxis(a, 1, -1).reshape(-1, c)  # (N·L, C)
    x_hat = (columns - columns.mean(0)) / np.sqrt(columns.var(0) + eps)
    y, w_new = np.empty_like(x_hat), np.empty_like(w0)
    for g, start in enumerate(range(0, c, group_size)):
        block = x_hat[:, start:start + group_size]
        centred = block - block.mean(0)
        sigma = centred.T @ centred / len(block)
        w = w0[g]
        residual = w @ sigma @ w.T - np.eye(group_size)
        if criterion == 'kl':
            w = w - lr * residual @ w
        else:
            w = w - lr * residual @ w @ sigma / np.linalg.norm(residual)
        if symmetrize:
            w = (w + w.T) / 2
        w_new[g] = w
        y[:, start:start + group_size] = block @ w.T
    y = np.moveaxis(y.reshape(a.shape[:1] + a.shape[2:] + (c, )), -1, 1)
    return torch.from_numpy(np.ascontiguousarray(y)), w_new
