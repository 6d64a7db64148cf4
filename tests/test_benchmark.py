"""The benchmark's helpers (tools/benchmark_norms.py): the measurements mean what they say. No timings."""
import torch
import torch.nn as nn
from mmengine.config import Config

from normdet.utils.benchmark import (LAYERS, build_layer, floor_step, measure_row, peak_memory, scaled_shapes,
                                     with_norm_everywhere)


def test_with_norm_everywhere_replaces_whole_dicts_and_leaves_the_original():
    gn = dict(type='GN', num_groups=32)
    cfg = Config(dict(model=dict(backbone=dict(norm_cfg=dict(gn)), neck=dict(norm_cfg=dict(gn)),
                                 roi_head=dict(bbox_head=dict(norm_cfg=dict(gn)), mask_head=dict(norm_cfg=dict(gn))))))
    gw = dict(type='GW', num_groups=64)
    everywhere = with_norm_everywhere(cfg, gw)
    assert everywhere.model.backbone.norm_cfg == gw and everywhere.model.roi_head.mask_head.norm_cfg == gw
    heads = with_norm_everywhere(cfg, gw, under=('model.neck', 'model.roi_head'))
    assert heads.model.backbone.norm_cfg == gn and heads.model.neck.norm_cfg == gw
    assert heads.model.roi_head.bbox_head.norm_cfg == gw
    assert cfg.model.neck.norm_cfg == gn and cfg.model.roi_head.bbox_head.norm_cfg == gn


def test_peak_memory_counts_output_and_input_gradient():
    x = torch.randn(2, 8, 32, 32, requires_grad=True)
    grad = torch.randn_like(x)
    layer = nn.GroupNorm(4, 8)

    def step():
        layer(x).backward(grad)
        x.grad = None

    ratio = peak_memory(step, torch.device('cpu')) / (x.numel() * 4)
    assert 2.0 <= ratio < 2.2


def test_whitening_layers_stay_near_the_least_memory():
    """GW and ItN keep nothing of the input's size but the input: peak = output + input gradient + a block
    buffer + (g, g) matrices (the Newton iterates while the backward recomputes them)."""
    row = measure_row('t', (2, 64, 64, 64), ['GN', 'GW', 'ItN'], torch.device('cpu'), repeats=5, warmup=0)
    for name in ('GW', 'ItN'):
        assert row.memory_ratio(name) < 2.5, (name, row.memory_ratio(name))
    assert set(row.floor_seconds) == {'GW', 'ItN'}


def test_every_layer_builds_at_every_shape_channel_count():
    channels = {c for _, (_, c, _, _) in scaled_shapes(0.05)}
    for name in LAYERS:
        for c in channels:
            assert build_layer(name, c)(torch.randn(2, c, 3, 3)).shape == (2, c, 3, 3)
    assert floor_step(build_layer('BN', 8), torch.randn(2, 8, 3, 3)) is None
