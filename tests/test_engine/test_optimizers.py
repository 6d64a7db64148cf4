"""normdet.engine.optimizers: norm_decay_mult (no weight decay on norm parameters) reaches the normdet
layers through NormAwareOptimWrapperConstructor, and custom_keys still apply to them."""
import pytest
import torch.nn as nn
from mmengine.optim import build_optim_wrapper

import normdet  # noqa: F401
from normdet.layers import GroupNormPlus, GroupWhitening


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
