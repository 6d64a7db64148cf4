"""Weight decay rules and norm_eval for the normdet layers."""
import pytest
import torch
import torch.nn as nn
from mmengine.optim import build_optim_wrapper

import normdet  # noqa: F401
from normdet.engine import NormEvalHook
from normdet.layers import (NORM_LAYERS, BatchGroupNorm, GroupNormPlus, GroupWhitening, IterNorm,
                            StochasticWhiteningBN, freeze_running_stats, has_running_stats)


class Net(nn.Module):

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.gw = GroupWhitening(8, num_groups=4)
        self.gnp = GroupNormPlus(8, num_groups=4)
        self.bn = nn.BatchNorm2d(8)


def weight_decay_of(optim_wrapper):
    return {id(p): group['weight_decay'] for group in optim_wrapper.optimizer.param_groups for p in group['params']}


@pytest.mark.parametrize('constructor,plugin_decay', [('NormAwareOptimWrapperConstructor', 0.0),
                                                      ('DefaultOptimWrapperConstructor', 1e-4)])
def test_norm_decay_mult_reaches_the_plugin_layers(constructor, plugin_decay):
    net = Net()
    wrapper = build_optim_wrapper(net, dict(constructor=constructor,
                                            optimizer=dict(type='SGD', lr=0.1, weight_decay=1e-4),
                                            paramwise_cfg=dict(norm_decay_mult=0.0)))
    decay = weight_decay_of(wrapper)
    assert decay[id(net.conv.weight)] == 1e-4
    assert decay[id(net.bn.weight)] == 0.0
    for p in (net.gw.weight, net.gw.bias, net.gnp.weight, net.gnp.mix_logit):
        assert decay[id(p)] == plugin_decay
    assert len(decay) == len(list(net.parameters()))


def test_custom_keys_still_apply_to_plugin_layers():
    net = Net()
    wrapper = build_optim_wrapper(net, dict(constructor='NormAwareOptimWrapperConstructor',
                                            optimizer=dict(type='SGD', lr=0.1, weight_decay=1e-4),
                                            paramwise_cfg=dict(norm_decay_mult=0.0,
                                                               custom_keys={'gw.weight': dict(lr_mult=0.5)})))
    lr = {id(p): g['lr'] for g in wrapper.optimizer.param_groups for p in g['params']}
    assert lr[id(net.gw.weight)] == 0.05 and lr[id(net.gw.bias)] == 0.1


def test_which_layers_have_running_stats():
    for cls in NORM_LAYERS:
        layer = cls(8, **({'num_groups': 4} if 'num_groups' in cls.__init__.__code__.co_varnames else {}))
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
