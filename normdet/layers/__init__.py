from .base import NormConfigError, channel_groups, collect_config_problems
from .bgn import BatchGroupNorm, SyncBatchGroupNorm
from .gnplus import GroupNormPlus
from .gw import GroupWhitening
from .itn import IterNorm
from .swbn import StochasticWhiteningBN
from .utils import freeze_running_stats, has_running_stats, is_norm

# Registry names, in the order the README lists them.
NORM_TYPES = ('GW', 'BGN', 'SyncBGN', 'GNPlus', 'ItN', 'SWBN')
NORM_LAYERS = (GroupWhitening, BatchGroupNorm, SyncBatchGroupNorm, GroupNormPlus, IterNorm,
               StochasticWhiteningBN)

__all__ = [
    'GroupWhitening', 'BatchGroupNorm', 'SyncBatchGroupNorm', 'GroupNormPlus', 'IterNorm',
    'StochasticWhiteningBN', 'NORM_TYPES', 'NORM_LAYERS', 'NormConfigError', 'channel_groups',
    'collect_config_problems', 'is_norm', 'has_running_stats', 'freeze_running_stats'
]
