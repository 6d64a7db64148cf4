from .bbox_heads import XConvFCBBoxHead

__all__ = ['XConvFCBBoxHead']
