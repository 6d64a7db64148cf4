"""mmdet's SingleRoIExtractor, safe for feature maps in any memory layout."""
from typing import Optional, Tuple

from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from mmdet.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class ContiguousSingleRoIExtractor(SingleRoIExtractor):
    """:class:`mmdet.models.SingleRoIExtractor` that hands RoIAlign contiguous feature maps.

    mmcv 2.1.0's CPU ``RoIAlign`` reads its input's storage as if the tensor were contiguous, whatever its
    strides: a channels_last feature map (a model converted with ``model.to(memory_format=
    torch.channels_last)``) or a permuted view gives wrong RoI features, silently (measured here: a max
    difference of 2.6 on features of scale 1). normdet's layers return their input's layout, so a
    contiguous model feeds RoIAlign contiguous maps; with channels_last, use this extractor. On a contiguous
    map ``.contiguous()`` returns the map itself: no copy, the same output as mmdet's extractor. (Whether
    mmcv's CUDA kernel has the same blind spot was not checked: no GPU was at hand.)

    Arguments and shapes: those of :class:`~mmdet.models.SingleRoIExtractor`; feats are (N, C, H_l, W_l) per
    level, rois (K, 5), the output (K, C, out_size, out_size).

    Example:
        >>> roi_extractor = dict(type='ContiguousSingleRoIExtractor',
        ...                      roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
        ...                      out_channels=256, featmap_strides=[4, 8, 16, 32])
    """

    def forward(self, feats: Tuple[Tensor], rois: Tensor, roi_scale_factor: Optional[float] = None) -> Tensor:
        return super().forward(tuple(feat.contiguous() for feat in feats), rois, roi_scale_factor)
