"""Folding for inference: in evaluation, with running statistics, BGN, GNPlus and SWBN compute fixed maps of
their input, which torch's own layers (or one grouped linear map) compute faster and export anywhere.

* BGN, SyncBGN: (x − μ_g)/√(σ²_g + ε)·γ_c + β_c, with g the group of channel c, is ``nn.BatchNorm`` in
  evaluation with μ_g, σ²_g repeated over each group's channels (so ``mmcv.cnn.fuse_conv_bn`` folds it
  further into the convolution before it).
* GNPlus (``denominator='sqrt_var'``, ``batch_stats='channel'``): its batch part standardises the GN output
  with fixed statistics, so y = (w·x_gn + (1 − w)·(x_gn − μ_c)/√(σ²_c + ε))·γ + β = x_gn·a_c + b_c is
  ``nn.GroupNorm`` with weight a = (w + (1 − w)/√(σ²_c + ε))·γ and bias b = β − (1 − w)·μ_c/√(σ²_c + ε)·γ.
* SWBN: y = γ ⊙ W·((x − μ)/√(σ² + ε)) + β is one block-diagonal linear map per group of d channels,
  y = A·x + b with A_g = diag(γ_g)·W_g·diag(1/s_g), s = √(σ² + ε), b = β − A·μ (:class:`GroupedLinear`; for a
  4-d input, a 1x1 convolution with C/d groups).

GW, ItN and GNPlus with per-position statistics whiten or standardise each input by its own statistics and
have no fixed form; a layer in training mode, or one without running statistics, is left as it is.

Example::

    >>> model = fold_norms(detector.eval())   # in place; returns the model
"""
import copy
from typing import Optional, Tuple

import torch
import torch.nn as nn
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from .base import BaseNormLayer
from .bgn import BatchGroupNorm
from .gnplus import GroupNormPlus
from .swbn import StochasticWhiteningBN
from .whitening import group_to_channels, grouped_channels


class FoldedBatchNorm(_BatchNorm):
    """``nn.BatchNorm`` in evaluation for inputs of 2 to 5 dims (a folded BGN keeps the ranks BGN takes);
    an ``_BatchNorm``, so mmcv's ``fuse_conv_bn`` folds it into a preceding convolution."""

    def _check_input_dim(self, x: Tensor) -> None:
        if not 2 <= x.dim() <= 5:
            raise ValueError(f'FoldedBatchNorm expects a 2-d to 5-d input, got shape {tuple(x.shape)}')


class GroupedLinear(nn.Module):
    """y = A_g·x_g + b per group g of d channels, A of shape (C/d, d, d): a folded SWBN.

    Shape: (N, C, *spatial) -> the same (contiguous).
    """

    def __init__(self, weight: Tensor, bias: Tensor) -> None:
        super().__init__()
        self.register_buffer('weight', weight)
        self.register_buffer('bias', bias)

    def forward(self, x: Tensor) -> Tensor:
        group_size = self.weight.size(-1)
        y = torch.matmul(self.weight.to(x.dtype), grouped_channels(x, group_size)).view(x.shape)
        return y + self.bias.to(x.dtype).view((1, -1) + (1, ) * (x.dim() - 2))

    def extra_repr(self) -> str:
        groups, size = self.weight.shape[:2]
        return f'{groups * size}, group_size={size}'


# The layers whose evaluation is a fixed map (given running statistics).
_FOLDABLE = (BatchGroupNorm, GroupNormPlus, StochasticWhiteningBN)


def _scale(layer: BaseNormLayer) -> Tensor:
    """1/√(σ² + ε) per running statistic, float64."""
    return torch.rsqrt(layer.running_var.double() + layer.eps)


def _affine(layer: BaseNormLayer):
    """γ, β of the layer, float64 (ones and zeros without an affine)."""
    weight, bias = layer._affine_params(torch.float64)
    if weight is not None:
        return weight.detach(), bias.detach()
    ones = torch.ones(layer.num_features, dtype=torch.float64, device=layer.running_mean.device)
    return ones, torch.zeros_like(ones)


@torch.no_grad()
def fold_norm(layer: nn.Module) -> Optional[nn.Module]:
    """The torch module that computes what ``layer`` (in evaluation, with running statistics) computes, in
    its parameters' dtype and device; None where the layer has no fixed form (see the module docstring)."""
    if not isinstance(layer, _FOLDABLE) or layer.training or layer._uses_batch_stats():
        return None
    like = dict(device=layer.running_mean.device, dtype=layer.running_mean.dtype)
    gamma, beta = _affine(layer)
    if isinstance(layer, BatchGroupNorm):
        bn = FoldedBatchNorm(layer.num_features, eps=layer.eps, affine=layer.affine).to(**like).eval()
        bn.running_mean.copy_(group_to_channels(layer.running_mean, layer.num_features))
        bn.running_var.copy_(group_to_channels(layer.running_var, layer.num_features))
        if layer.affine:
            bn.weight.copy_(layer.weight)
            bn.bias.copy_(layer.bias)
        return bn
    if isinstance(layer, GroupNormPlus):
        if layer.denominator != 'sqrt_var':
            return None  # GN's part divides by (s + ε): not nn.GroupNorm
        w = torch.sigmoid(layer.mix_logit.detach().double())
        scale = _scale(layer)
        gn = nn.GroupNorm(layer.num_groups, layer.num_features, eps=layer.eps).to(**like)
        gn.weight.copy_((w + (1 - w) * scale) * gamma)
        gn.bias.copy_(beta - (1 - w) * layer.running_mean.double() * scale * gamma)
        return gn
    if isinstance(layer, StochasticWhiteningBN):
        d = layer.group_size
        scale = _scale(layer).view(-1, 1, d)  # (C/d, 1, d): divides the columns of W_g
        a = gamma.view(-1, d, 1) * layer.whitening_matrix.double() * scale
        b = beta - torch.matmul(a, layer.running_mean.double().view(-1, d, 1)).flatten()
        return GroupedLinear(a.to(**like), b.to(**like))
    return None


def fold_norms(model: nn.Module) -> nn.Module:
    """Replace, in place, every normdet layer of ``model`` that :func:`fold_norm` can fold (call
    ``model.eval()`` first) by its folded form; return ``model``."""
    for name, child in list(model.named_children()):
        folded = fold_norm(child)
        if folded is not None:
            setattr(model, name, folded)
        else:
            fold_norms(child)
    return model


def folded_copy(model: nn.Module) -> Tuple[nn.Module, int, int]:
    """``(folded, layers, folded_layers)``: a deep copy of ``model`` (left as it is) in evaluation mode with
    :func:`fold_norms` applied, how many normdet layers ``model`` has and how many of them were folded."""
    folded = fold_norms(copy.deepcopy(model).eval())
    layers = sum(isinstance(m, BaseNormLayer) for m in model.modules())
    return folded, layers, layers - sum(isinstance(m, BaseNormLayer) for m in folded.modules())
