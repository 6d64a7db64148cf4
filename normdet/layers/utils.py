"""What counts as a norm layer, for code that only knows torch's (weight decay, norm_eval)."""
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm

from .base import BaseNormLayer

TORCH_NORMS = (_BatchNorm, _InstanceNorm, nn.GroupNorm, nn.LayerNorm)
NORM_CLASSES = TORCH_NORMS + (BaseNormLayer, )


def is_norm(module: nn.Module) -> bool:
    """True for torch's norm layers and every normdet layer."""
    return isinstance(module, NORM_CLASSES)


def has_running_stats(module: nn.Module) -> bool:
    """True for the layers whose evaluation uses statistics gathered in training (and to which
    ``norm_eval`` therefore applies): torch's BatchNorms and the normdet layers that keep running
    statistics (BGN, SyncBGN, GNPlus with ``batch_stats='channel'``, ItN, SWBN)."""
    if isinstance(module, BaseNormLayer):
        return getattr(module, 'running_mean', None) is not None
    return isinstance(module, _BatchNorm)


def freeze_running_stats(module: nn.Module) -> nn.Module:
    """Put every layer below `module` that has running statistics in eval mode, as mmdet's
    ``norm_eval=True`` does for torch's BatchNorms only. Parameters keep their ``requires_grad``."""
    for m in module.modules():
        if has_running_stats(m):
            m.eval()
    return module
