"""normdet.utils.norm_cfgs, the one traversal of the norm configs in a model config (the runner's checks,
the benchmark's config variants)."""
from mmengine.config import Config

from normdet.utils.norm_cfgs import iter_norm_cfgs, replace_norm_cfgs


def test_norm_cfg_paths_cover_every_position():
    cfg = dict(backbone=dict(norm_cfg=dict(type='GW'), stem_norm_cfg=dict(type='BN'), norm2_cfg=dict(type='GW'),
                             downsample_norm_cfg=dict(type='BN'), conv_cfg=dict(type='Conv2d')),
               roi_head=dict(mask_head=[dict(norm_cfg=dict(type='GN', num_groups=32))]),
               neck=dict(norm_cfg=None))
    assert [path for path, _ in iter_norm_cfgs(cfg)] == [
        'model.backbone.norm_cfg', 'model.backbone.stem_norm_cfg', 'model.backbone.norm2_cfg',
        'model.backbone.downsample_norm_cfg', 'model.roi_head.mask_head.0.norm_cfg']


def test_replace_norm_cfgs_replaces_whole_dicts_and_leaves_the_original():
    gn = dict(type='GN', num_groups=32)
    cfg = Config(dict(model=dict(backbone=dict(norm_cfg=dict(gn)), neck=dict(norm_cfg=dict(gn)),
                                 roi_head=dict(bbox_head=dict(norm_cfg=dict(gn)), mask_head=dict(norm_cfg=dict(gn))))))
    gw = dict(type='GW', num_groups=64)
    everywhere = replace_norm_cfgs(cfg, gw)
    assert everywhere.model.backbone.norm_cfg == gw and everywhere.model.roi_head.mask_head.norm_cfg == gw
    heads = replace_norm_cfgs(cfg, gw, under=('model.neck', 'model.roi_head'))
    assert heads.model.backbone.norm_cfg == gn and heads.model.neck.norm_cfg == gw
    assert heads.model.roi_head.bbox_head.norm_cfg == gw
    assert cfg.model.neck.norm_cfg == gn and cfg.model.roi_head.bbox_head.norm_cfg == gn
