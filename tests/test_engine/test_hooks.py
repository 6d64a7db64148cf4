"""normdet.engine.hooks: NormEvalHook freezes the running statistics below modules with norm_eval=True,
and the layer predicates it relies on (has_running_stats, freeze_running_stats)."""
import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer

from normdet.engine import NormEvalHook
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
