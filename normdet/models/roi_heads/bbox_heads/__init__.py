from .xconv_fc_bbox_head import XConvFCBBoxHead

__all__ = ['XConvFCBBoxHead']
