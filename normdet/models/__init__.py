from .backbones import PositionNormResNet, PositionNormResNeXt, check_local_pretrained
from . import classification  # noqa: F401  (the backbones in mmpretrain's registry too)
from .roi_heads import ContiguousSingleRoIExtractor, XConvFCBBoxHead  # noqa: F401  (mmdet's MODELS)
from .utils import convert_gw_checkpoint, load_source_checkpoint

__all__ = [
    'PositionNormResNet', 'PositionNormResNeXt', 'check_local_pretrained', 'convert_gw_checkpoint',
    'load_source_checkpoint'
]
