from .bbox_heads import XConvFCBBoxHead
from .roi_extractors import ContiguousSingleRoIExtractor

__all__ = ['XConvFCBBoxHead', 'ContiguousSingleRoIExtractor']
