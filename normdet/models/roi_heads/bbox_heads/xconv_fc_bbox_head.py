"""The "4conv1fc" box head as maskrcnn-benchmark builds it (``FPNXconv1fcFeatureExtractor``)."""
from typing import List, Optional, Union

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmdet.models.roi_heads.bbox_heads import ConvFCBBoxHead
from mmdet.registry import MODELS
from mmengine.config import ConfigDict

_BRANCH_ARGS = ('num_cls_convs', 'num_cls_fcs', 'num_reg_convs', 'num_reg_fcs')


def _check_count(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f'XConvFCBBoxHead: {name} must be a positive int, got {value!r}')


@MODELS.register_module()
class XConvFCBBoxHead(ConvFCBBoxHead):
    r"""Box head of stacked 3x3 convs with ONE ReLU after the last, then shared fcs: maskrcnn-benchmark's
    ``FPNXconv1fcFeatureExtractor`` with its ``FPNPredictor``, the "4conv1fc" head of the GN and Group
    Whitening papers' detectors.

    For RoI features :math:`x` of shape (N, C_in, S, S), S = ``roi_feat_size``:

    .. math::

        h_0 = x, \qquad h_i = \mathrm{Norm}_i(W_i \ast h_{i-1}) \quad (i = 1, \dots, n), \qquad
        z = \mathrm{ReLU}\big(\mathrm{fc}_6(\mathrm{vec}(\mathrm{ReLU}(h_n)))\big) \in \mathbb{R}^{N \times F},

    then mmdet's predictors: ``cls_score = fc_cls(z)`` of shape (N, K + 1) and ``bbox_pred = fc_reg(z)`` of
    shape (N, 4K) (N, 4 with ``reg_class_agnostic``). :math:`W_i` is a 3x3 conv (padding 1) to D =
    ``conv_out_channels`` channels, without bias when a norm follows it (the norm's β takes its place); Norm
    is ``norm_cfg`` (identity when None); fc6 maps D·S² to F = ``fc_out_channels`` and has no norm. More
    fcs (``num_shared_fcs``) each add fc + ReLU.

    mmdet's ``Shared4Conv1FCBBoxHead`` has a ReLU after every conv. Here only the last conv has one, so
    without a norm the n convs compose into a single linear map with a (2n+1)x(2n+1) receptive field, and
    with GN or GW each norm (per sample, nonlinear) is the only thing between two convs. Every 4conv1fc
    number of the Group Whitening paper (Tables 2 and 3) was measured with this head.

    Initialisation, applied by ``init_weights`` like every mmdet module's: convs normal(0, 0.01), fcs
    kaiming_uniform(a=1) (Caffe2's XavierFill), ``fc_cls`` normal(0, 0.01), ``fc_reg`` normal(0, 0.001),
    biases 0.

    Args:
        num_shared_convs (int): Number n of stacked convs. Defaults to 4.
        num_shared_fcs (int): Number of fcs after the convs. Defaults to 1.
        conv_out_channels (int): D. Defaults to 256.
        fc_out_channels (int): F. Defaults to 1024.
        conv_cfg (dict, optional): Conv layer config. Defaults to None (``nn.Conv2d``).
        norm_cfg (dict, optional): Norm after each conv, e.g. ``dict(type='GW', num_groups=64)`` or
            ``dict(type='GN', num_groups=32)``. Defaults to None: no norm, convs with bias.
        init_cfg (dict or list[dict], optional): Defaults to None, the initialisation above.
        **kwargs: :class:`mmdet.models.BBoxHead` arguments (``in_channels``, ``roi_feat_size``,
            ``num_classes``, ``bbox_coder``, ``loss_cls``, ``loss_bbox``, ...). The separate cls/reg
            branches of ``ConvFCBBoxHead`` (``num_cls_convs``, ...) do not exist here.

    Example:
        >>> import torch
        >>> import normdet  # noqa: F401  (registers this head and the GW norm)
        >>> from mmdet.registry import MODELS
        >>> head = MODELS.build(dict(type='XConvFCBBoxHead', in_channels=256, roi_feat_size=7,
        ...                          num_classes=80, norm_cfg=dict(type='GW', num_groups=64)))
        >>> cls_score, bbox_pred = head(torch.randn(8, 256, 7, 7))
        >>> tuple(cls_score.shape), tuple(bbox_pred.shape)
        ((8, 81), (8, 320))
    """

    def __init__(self,
                 num_shared_convs: int = 4,
                 num_shared_fcs: int = 1,
                 conv_out_channels: int = 256,
                 fc_out_channels: int = 1024,
                 conv_cfg: Optional[Union[dict, ConfigDict]] = None,
                 norm_cfg: Optional[Union[dict, ConfigDict]] = None,
                 init_cfg: Optional[Union[dict, ConfigDict, List[dict]]] = None,
                 **kwargs) -> None:
        for key in _BRANCH_ARGS:
            value = kwargs.pop(key, 0)
            if value:
                raise ValueError(f'XConvFCBBoxHead shares every layer between classification and regression '
                                 f'(no separate branches), got {key}={value!r}')
        _check_count('num_shared_convs', num_shared_convs)
        _check_count('num_shared_fcs', num_shared_fcs)
        if init_cfg is None:
            init_cfg = [
                dict(type='Normal', std=0.01, layer='Conv2d'),
                dict(type='Caffe2Xavier', override=dict(name='shared_fcs')),
            ]
            if kwargs.get('with_cls', True):
                init_cfg.append(dict(type='Normal', std=0.01, override=dict(name='fc_cls')))
            if kwargs.get('with_reg', True):
                init_cfg.append(dict(type='Normal', std=0.001, override=dict(name='fc_reg')))
        super().__init__(
            num_shared_convs=num_shared_convs,
            num_shared_fcs=num_shared_fcs,
            conv_out_channels=conv_out_channels,
            fc_out_channels=fc_out_channels,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            init_cfg=init_cfg,
            **kwargs)
        # ConvFCBBoxHead gives each conv its own ReLU. Rebuilt without them, and the single ReLU goes last in
        # the same ModuleList, so ConvFCBBoxHead.forward runs the authors' sequence unchanged and the layer
        # names (shared_convs.i.conv, shared_convs.i.<norm>) stay those of mmdet's heads.
        self.shared_convs = nn.ModuleList([
            ConvModule(
                self.in_channels if i == 0 else conv_out_channels,
                conv_out_channels,
                3,
                padding=1,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                act_cfg=None) for i in range(num_shared_convs)
        ])
        self.shared_convs.append(nn.ReLU(inplace=True))

    def extra_repr(self) -> str:
        norm = self.norm_cfg['type'] if self.norm_cfg else None
        return (f'{self.num_shared_convs} x (conv3x3 -> {self.conv_out_channels}, norm={norm}), one ReLU after '
                f'the last; {self.num_shared_fcs} x (fc -> {self.fc_out_channels}, ReLU)')
