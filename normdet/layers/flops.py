"""FLOP counts of the normdet layers in the convention of mmengine's complexity counter
(``mmengine.analysis``: a multiply-add counts one, as for a convolution), and their registration in it.

The counter traces the model with ``torch.jit`` and counts each op of the trace with a handle keyed on the
op's name. For a layer the rules below give, with E the input's elements, N its samples, C its channels:

* GW (training = evaluation): Σ = xc·xcᵀ/m and W·xc, g·E each, plus per sample the Newton iteration,
  3·(T − 1)·g³ (each of the T steps but the first, which needs no product since P₀ = I, forms P³·Σ_N with
  three g×g products); ``whitening='zca'``: the two g·E products and V·Λ^{-1/2}·Vᵀ, g³ per sample (the
  eigendecomposition itself has no multiply-add count).
* ItN, training: the same per group of d channels over the batch, Σ and W·xc d·E each plus 3·(T − 1)·d³
  per group (C/d groups); evaluation: its one affine map, W·x (d·E) and W·μ (C·d).
* BGN, SyncBGN: as mmengine counts ``aten::batch_norm``: 4·E with batch statistics (training), 1·E with
  running ones, + E for the affine.
* GNPlus: its GroupNorm part as ``aten::group_norm`` without affine (4·E), plus its batch part as
  BatchNorm with the layer's affine (as BGN).
* SWBN: BatchNorm (as BGN) plus W·x̂, d·E; in training with ``whitening_lr > 0`` also the batch
  covariance (d·E) and its whitening step on (d, d) matrices (3·d³ per group, 4·d³ for ``'fro'``).

Elementwise work (centring, trace normalisation, the mix of GN+) is not counted, as the counter counts no
elementwise op. The counter can key a handle on an op only, never on a module, so the layers reach it two
ways:

* Every layer in training (GW also in evaluation) runs as an autograd Function, which the trace holds as one
  ``prim::PythonOp`` (its inner ops are not in it): importing normdet adds handles for those ops to the
  counter's defaults, so ``mmengine.analysis.get_model_complexity_info`` (and mmdet's ``get_flops.py``)
  count them.
* The layers in evaluation (but GW) trace as plain elementwise ops and broadcast matmuls, which the
  counter counts as zero or, for a matmul whose second operand carries the batch, only in part: no handle
  could tell their ops from anyone else's. :class:`NormFlopAnalyzer` counts every normdet layer as a module
  instead (its rule above, for the shapes it was called with), and ``tools/analysis_tools/get_flops.py``
  uses it.
"""
from collections import Counter, defaultdict
from math import prod
from typing import Sequence

from mmengine.analysis import FlopAnalyzer, complexity_analysis
from mmengine.analysis.jit_handles import get_shape
from mmengine.registry import MODELS

from .base import BaseNormLayer
from .bgn import BatchGroupNorm, BatchGroupNormFunction
from .gnplus import GroupNormPlus, GroupNormPlusFunction
from .gw import GroupWhitening, GroupWhiteningFunction
from .itn import IterNorm, IterNormFunction
from .swbn import StochasticWhiteningBN, StochasticWhiteningFunction


def newton_flops(dim: int, iterations: int) -> int:
    """Multiply-adds of :func:`~normdet.layers.whitening.newton_schulz_whitening` on one (dim, dim) Σ."""
    return 3 * max(iterations - 1, 0) * dim**3


def group_whitening_flops(shape: Sequence[int], groups: int, iterations: int) -> int:
    """GW's Newton whitening of an input of ``shape`` (N, C, *spatial): 2·g·E + N·3·(T − 1)·g³."""
    return 2 * groups * prod(shape) + shape[0] * newton_flops(groups, iterations)


def iter_norm_flops(shape: Sequence[int], group_size: int, iterations: int, training: bool) -> int:
    """ItN on an input of ``shape``: 2·d·E + (C/d)·3·(T − 1)·d³ in training, d·E + C·d in evaluation."""
    if training:
        return 2 * group_size * prod(shape) + shape[1] // group_size * newton_flops(group_size, iterations)
    return group_size * prod(shape) + shape[1] * group_size


def batch_norm_flops(shape: Sequence[int], batch_stats: bool, affine: bool) -> int:
    """As mmengine's handle of ``aten::batch_norm``: (4 with batch statistics, else 1) + 1 for an affine, per
    element."""
    return prod(shape) * ((4 if batch_stats else 1) + int(affine))


def _gw(layer: GroupWhitening, shape) -> int:
    if layer.whitening == 'zca':
        return 2 * layer.num_groups * prod(shape) + shape[0] * layer.num_groups**3
    return group_whitening_flops(shape, layer.num_groups, layer.T)


def _bgn(layer: BatchGroupNorm, shape) -> int:
    return batch_norm_flops(shape, layer._uses_batch_stats(), layer.affine)


def _gnplus(layer: GroupNormPlus, shape) -> int:
    return group_norm_plus_flops(shape, layer._uses_batch_stats(), layer.affine)


def _itn(layer: IterNorm, shape) -> int:
    return iter_norm_flops(shape, layer.group_size, layer.T, layer.training)


def group_norm_plus_flops(shape: Sequence[int], batch_stats: bool, affine: bool) -> int:
    """GNPlus: mmengine's aten::group_norm handle without an affine (4 per element; the layer applies its own
    once), plus its batch part as BatchNorm."""
    return 4 * prod(shape) + batch_norm_flops(shape, batch_stats, affine)


def stochastic_whitening_flops(shape: Sequence[int], group_size: int, batch_stats: bool, affine: bool,
                               stepping: bool, frobenius: bool) -> int:
    """SWBN: BatchNorm, W·x̂ (d·E), and with a whitening step the covariance (d·E) and 3·d³ (4·d³ for the
    Frobenius criterion) per group: WΣWᵀ, (WΣWᵀ − I)·W[, ·Σ]."""
    d = group_size
    flops = batch_norm_flops(shape, batch_stats, affine) + d * prod(shape)
    if stepping:
        flops += d * prod(shape) + shape[1] // d * (4 if frobenius else 3) * d**3
    return flops


def _swbn(layer: StochasticWhiteningBN, shape) -> int:
    return stochastic_whitening_flops(shape, layer.group_size, layer._uses_batch_stats(), layer.affine,
                                      layer.training and layer.whitening_lr > 0, layer.criterion == 'fro')


# Keyed on the class that defines the math; a subclass (SyncBGN) takes its base's rule.
_RULES = {
    GroupWhitening: _gw,
    BatchGroupNorm: _bgn,
    GroupNormPlus: _gnplus,
    IterNorm: _itn,
    StochasticWhiteningBN: _swbn,
}


def norm_flops(layer: BaseNormLayer, shape: Sequence[int]) -> int:
    """Multiply-adds of one call of ``layer`` (in its current training or evaluation mode) on an input of
    ``shape`` (N, C, *spatial), by the rules of this module."""
    for cls in type(layer).__mro__:
        if cls in _RULES:
            return int(_RULES[cls](layer, tuple(int(s) for s in shape)))
    raise TypeError(f'no FLOP rule for {type(layer).__name__} (rules: '
                    f'{", ".join(cls.__name__ for cls in _RULES)}); add one to normdet/layers/flops.py')


def _scalar_args(outputs) -> list:
    """The non-tensor arguments of the ``prim::PythonOp`` that produced ``outputs``, in call order."""
    return list(outputs[0].node().scalar_args())


def _group_whitening_handle(inputs, outputs) -> int:
    # GroupWhiteningFunction.apply(x, weight, bias, groups, iterations, eps); weight and bias are scalar
    # arguments too when they are None, so count from the end.
    groups, iterations, _ = _scalar_args(outputs)[-3:]
    return group_whitening_flops(get_shape(inputs[0]), groups, iterations)


def _iter_norm_handle(inputs, outputs) -> int:
    # IterNormFunction.apply(x, weight, bias, group_size, iterations, eps) runs in training only.
    group_size, iterations, _ = _scalar_args(outputs)[-3:]
    return iter_norm_flops(get_shape(inputs[0]), group_size, iterations, training=True)


def _affine(inputs, tensors_without_affine: int) -> bool:
    # weight and bias are tensor inputs of the op when the layer has an affine, scalar (None) arguments otherwise
    return len(inputs) > tensors_without_affine


def _batch_group_norm_handle(inputs, outputs) -> int:
    # BatchGroupNormFunction.apply(x, weight, bias, groups, eps, process_group), in training
    return batch_norm_flops(get_shape(inputs[0]), True, _affine(inputs, 1))


def _group_norm_plus_handle(inputs, outputs) -> int:
    # GroupNormPlusFunction.apply(x, weight, bias, mix_logit, groups, eps), in training
    return group_norm_plus_flops(get_shape(inputs[0]), True, _affine(inputs, 2))


def _stochastic_whitening_handle(inputs, outputs) -> int:
    # StochasticWhiteningFunction.apply(x, weight, bias, wm, group_size, eps, whitening_lr, frobenius,
    # symmetrize), in training
    group_size, _, lr, frobenius, _ = _scalar_args(outputs)[-5:]
    return stochastic_whitening_flops(get_shape(inputs[0]), group_size, True, _affine(inputs, 2), lr > 0,
                                      bool(frobenius))


# The counter names an autograd Function's op 'prim::PythonOp.' + its class name.
FLOP_HANDLES = {
    f'prim::PythonOp.{GroupWhiteningFunction.__name__}': _group_whitening_handle,
    f'prim::PythonOp.{BatchGroupNormFunction.__name__}': _batch_group_norm_handle,
    f'prim::PythonOp.{GroupNormPlusFunction.__name__}': _group_norm_plus_handle,
    f'prim::PythonOp.{IterNormFunction.__name__}': _iter_norm_handle,
    f'prim::PythonOp.{StochasticWhiteningFunction.__name__}': _stochastic_whitening_handle,
}
# Registration: every FlopAnalyzer starts from these defaults (mmengine has no registry for op handles).
complexity_analysis._DEFAULT_SUPPORTED_FLOP_OPS.update(FLOP_HANDLES)


class NormFlopAnalyzer(FlopAnalyzer):
    """mmengine's :class:`~mmengine.analysis.FlopAnalyzer` that counts every normdet layer as one module,
    by :func:`norm_flops` for each input it was called with, in place of the ops its trace holds (whose
    elementwise ops the counter cannot count and would report as unsupported). The count is under the
    layer's registered type name (``'GW'``, ``'BGN'``, ...) in :meth:`by_operator`; every other module
    is counted as by ``FlopAnalyzer``.

    Example:
        >>> model = nn.Sequential(nn.Conv2d(3, 8, 3), BatchGroupNorm(8, num_groups=4)).eval()
        >>> NormFlopAnalyzer(model, torch.randn(1, 3, 10, 10)).by_operator()
        Counter({'conv': 13824, 'BGN': 1024})
    """

    def _analyze(self):
        if self._stats is not None:
            return self._stats
        layer_flops = defaultdict(int)

        def record(layer, args):
            layer_flops[self._aliases[layer]] += norm_flops(layer, args[0].shape)

        hooks = [m.register_forward_pre_hook(record) for m in self._model.modules() if isinstance(m, BaseNormLayer)]
        warn = self._enable_warn_unsupported_ops
        self._enable_warn_unsupported_ops = False  # warned below, without the ops of the layers
        try:
            stats = super()._analyze()
        finally:
            self._enable_warn_unsupported_ops = warn
            for hook in hooks:
                hook.remove()
        for name, flops in layer_flops.items():
            traced, unsupported = Counter(stats.counts[name]), Counter(stats.unsupported_ops[name])
            op = _type_name(self._named_modules[name])
            for ancestor in self._get_all_ancestors(name):
                _subtract(stats.counts[ancestor], traced)
                _subtract(stats.unsupported_ops[ancestor], unsupported)
                stats.counts[ancestor][op] += flops
        self._warn_unsupported_ops(stats.unsupported_ops[''])
        return stats


def _type_name(layer: BaseNormLayer) -> str:
    return next(name for name, cls in MODELS.module_dict.items() if cls is type(layer))


def _subtract(counter: Counter, other: Counter) -> None:
    for key, value in other.items():
        counter[key] -= value
        if counter[key] == 0:
            del counter[key]
