"""normdet.engine.hooks: NormEvalHook freezes the running statistics below modules with norm_eval=True,
and the layer predicates it relies on (has_running_stats, freeze_running_stats); WhiteningMonitorHook
records every SWBN layer's whitening_stats at its interval."""
import json
import logging

import pytest
import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer

from normdet.engine import NormEvalHook, WhiteningMonitorHook
from normdet.layers import (NORM_TYPES, BatchGroupNorm, GroupNormPlus, GroupWhitening, IterNorm,
                            StochasticWhiteningBN, freeze_running_stats, has_running_stats, small_norm_cfg)


def test_which_layers_have_running_stats():
    for norm_type in NORM_TYPES:
        layer = build_norm_layer(small_norm_cfg(norm_type), 8)[1]
        cls = type(layer)
        assert has_running_stats(layer) == (cls is not GroupWhitening), cls
    assert not has_running_stats(GroupNormPlus(8, 4, batch_stats='position'))
    assert has_running_stats(nn.BatchNorm2d(4)) and not has_running_stats(nn.GroupNorm(2, 4))


class Backbone(nn.Module):

    def __init__(self, norm_eval):
        super().__init__()
        self.norm_eval = norm_eval
        self.bgn = BatchGroupNorm(8, num_groups=4)
        self.swbn = StochasticWhiteningBN(8, num_channels=4, whitening_lr=0.1)
        self.gw = GroupWhitening(8, num_groups=4)


class Detector(nn.Module):

    def __init__(self):
        super().__init__()
        self.backbone = Backbone(norm_eval=True)
        self.neck = Backbone(norm_eval=False)


def test_norm_eval_hook_freezes_running_statistics_below_norm_eval_modules():
    model = Detector().train()
    runner = type('Runner', (), {'model': model})()
    NormEvalHook().before_train_iter(runner, 0)
    assert not model.backbone.bgn.training and not model.backbone.swbn.training
    assert model.backbone.gw.training  # no running statistics: nothing to freeze
    assert model.neck.bgn.training and model.neck.swbn.training
    state = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    x = torch.randn(2, 8, 4, 4)
    model.backbone.swbn(model.backbone.bgn(x))
    for k, v in model.backbone.state_dict().items():
        assert torch.equal(v, state[k]), k
    assert all(p.requires_grad for p in model.parameters())


def test_freeze_running_stats_covers_torch_batchnorm():
    seq = freeze_running_stats(nn.Sequential(nn.BatchNorm2d(4), nn.GroupNorm(2, 4), IterNorm(4, 2)).train())
    assert [m.training for m in seq] == [False, True, False]


class _Visualizer:

    def __init__(self):
        self.scalars = []

    def add_scalars(self, scalars, step):
        self.scalars.append((step, scalars))


def test_whitening_monitor_hook_records_each_swbn_layer_at_its_interval(tmp_path):
    model = Detector().train()
    runner = type('Runner', (), dict(model=model, iter=0, work_dir=str(tmp_path), visualizer=_Visualizer(),
                                     logger=logging.getLogger('test_whitening_monitor')))()
    hook = WhiteningMonitorHook(interval=2)
    for it in range(5):
        runner.iter = it
        model.backbone.swbn(torch.randn(4, 8, 3, 3))
        model.neck.swbn(torch.randn(4, 8, 3, 3))
        hook.after_train_iter(runner, it)
        if it == 3:
            at_4 = model.neck.swbn.whitening_stats()
    hook.after_train(runner)
    saved = json.loads((tmp_path / 'whitening_stats.json').read_text())
    assert saved['interval'] == 2 and sorted(saved['layers']) == ['backbone.swbn', 'neck.swbn']
    series = saved['layers']['neck.swbn']
    assert [r['iter'] for r in series] == [2, 4]
    assert series[-1] == dict(iter=4, kl=at_4['kl'].mean().item(), fro=at_4['fro'].mean().item(),
                              cond=at_4['cond'].max().item())
    assert [step for step, _ in runner.visualizer.scalars] == [2, 4]
    assert set(runner.visualizer.scalars[0][1]) == {f'whitening/{k}_{a}' for k in ('kl', 'fro', 'cond')
                                                    for a in ('mean', 'max')}


@pytest.mark.parametrize('interval', [0, -1, 2.5])
def test_whitening_monitor_hook_rejects_a_bad_interval(interval):
    with pytest.raises(ValueError, match=f'interval={interval!r}'):
        WhiteningMonitorHook(interval=interval)
