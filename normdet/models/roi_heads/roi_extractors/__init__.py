from .contiguous_single_level_roi_extractor import ContiguousSingleRoIExtractor

__all__ = ['ContiguousSingleRoIExtractor']
