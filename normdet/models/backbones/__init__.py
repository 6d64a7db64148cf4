from .position_norm_resnet import (PositionNormBasicBlock, PositionNormBottleneck, PositionNormResNet,
                                   PositionNormResNeXt, PositionNormResNeXtBottleneck, check_local_pretrained)

__all__ = [
    'PositionNormResNet', 'PositionNormResNeXt', 'PositionNormBasicBlock', 'PositionNormBottleneck',
    'PositionNormResNeXtBottleneck', 'check_local_pretrained'
]
