"""The normdet normalization layers, registered in mmengine's root ``MODELS`` so that mmcv's
``build_norm_layer`` builds them from any scope, and the set of them, read from that registry."""
import inspect

from mmengine.registry import MODELS

from .base import BaseNormLayer, NormConfigError, collect_config_problems, resolve_group_size
# isort: off
# Imported in the README's order, which is the order of registration and so of NORM_TYPES.
from .gw import GroupWhitening
from .bgn import BatchGroupNorm, SyncBatchGroupNorm
from .gnplus import GroupNormPlus
from .itn import IterNorm
from .swbn import StochasticWhiteningBN
# isort: on
# Registers the FLOP handles of GW and ItN in mmengine's complexity counter (and only that).
from .flops import NormFlopAnalyzer, norm_flops
from .fuse import fold_norm, fold_norms, folded_copy
from .utils import freeze_running_stats, has_running_stats, is_norm


# Registry names of the normdet layers and their classes, in registration order (the README's: GW, BGN,
# SyncBGN, GNPlus, ItN, SWBN): every layer class of mmengine's root registry that mmcv can name (`_abbr_`).
_REGISTERED = {name: cls for name, cls in MODELS.module_dict.items()
               if inspect.isclass(cls) and issubclass(cls, BaseNormLayer) and hasattr(cls, '_abbr_')}
NORM_TYPES = tuple(_REGISTERED)
NORM_LAYERS = tuple(_REGISTERED.values())


def small_norm_cfg(norm_type: str) -> dict:
    """A norm config of ``norm_type`` whose arguments fit 8 channels (the tests' layers).

    Example:
        >>> small_norm_cfg('ItN')
        {'type': 'ItN', 'group_size': 4}
    """
    return dict(type=norm_type, **_REGISTERED[norm_type]._small_cfg_)


def paper_norm_cfg(norm_type: str) -> dict:
    """A norm config of ``norm_type`` with its paper's arguments, for a detector's widths (256 channels).

    Example:
        >>> paper_norm_cfg('GW')
        {'type': 'GW', 'num_groups': 64}
    """
    return dict(type=norm_type, **_REGISTERED[norm_type]._paper_cfg_)


__all__ = [
    'GroupWhitening', 'BatchGroupNorm', 'SyncBatchGroupNorm', 'GroupNormPlus', 'IterNorm',
    'StochasticWhiteningBN', 'BaseNormLayer', 'NORM_TYPES', 'NORM_LAYERS', 'small_norm_cfg', 'paper_norm_cfg',
    'NormConfigError', 'resolve_group_size', 'collect_config_problems', 'is_norm', 'has_running_stats',
    'freeze_running_stats', 'NormFlopAnalyzer', 'norm_flops', 'fold_norm', 'fold_norms',
    'folded_copy'
]
