"""Checkpoint compatibility: every layer loads the state_dict fixtures of tests/data/state_dicts/ (saved in
state version 1, today's layout, by its make_fixtures.py), with and without their metadata; older versions
are migrated, newer ones refused; a checkpoint that cannot fit is reported with the layer, the key and what
was expected."""
import collections
import copy
import pathlib
import re

import pytest
import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer

import normdet  # noqa: F401
from normdet.layers import NORM_TYPES, BatchGroupNorm, StochasticWhiteningBN
from normdet.layers.base import STATE_LAYER_KEY

FIXTURES = pathlib.Path(__file__).parents[1] / 'data' / 'state_dicts'


def load_fixture(norm_type):
    return torch.load(FIXTURES / f'{norm_type}.pt', weights_only=True)


def build(norm_type, channels, **kwargs):
    return build_norm_layer(dict(type=norm_type, **kwargs), channels)[1]


def build_from(saved):
    return build_norm_layer(saved['norm_cfg'], saved['channels'])[1]


def in_model(layer):
    """The layer as a model's submodule, so that its keys and metadata sit under 'norm.' as in a detector."""
    return nn.Sequential(collections.OrderedDict(norm=layer))


def copy_state(state_dict):
    """A copy whose entries and metadata can change without changing ``state_dict``."""
    result = collections.OrderedDict(state_dict)
    result._metadata = copy.deepcopy(state_dict._metadata)
    return result


def test_every_registered_layer_has_a_fixture():
    assert sorted(p.stem for p in FIXTURES.glob('*.pt')) == sorted(NORM_TYPES)


@pytest.mark.parametrize('norm_type', NORM_TYPES)
@pytest.mark.parametrize('metadata', [True, False], ids=['versioned', 'without-metadata'])
def test_fixture_loads_with_its_values_and_evaluation_output(norm_type, metadata):
    """Without metadata: a checkpoint saved before versions were recorded (or rebuilt as a plain dict)
    counts as version 1."""
    saved = load_fixture(norm_type)
    state = saved['state_dict']
    layer = build_from(saved)
    assert state._metadata[''] == {'version': 1, STATE_LAYER_KEY: type(layer).__name__}
    layer.load_state_dict(state if metadata else dict(state))
    assert list(layer.state_dict()) == list(state)
    for key, value in layer.state_dict().items():
        assert torch.equal(value, state[key]), key
    torch.testing.assert_close(layer.eval()(saved['input']), saved['output'])
    saved_again = layer.state_dict()._metadata['']
    assert saved_again == {'version': type(layer)._version, STATE_LAYER_KEY: type(layer).__name__}


class MigratingBGN(BatchGroupNorm):
    """BGN as if at state version 3, its versions 2 and 3 each having rewritten one tensor (stand-ins for a
    rename or a new layout); records each migration it makes."""

    _version = 3

    def _migrate_state(self, state_dict, prefix, version):
        self.migrated.append((prefix, version))
        if version == 1:
            state_dict[prefix + 'bias'] = state_dict[prefix + 'bias'] + 1
        elif version == 2:
            state_dict[prefix + 'weight'] = state_dict[prefix + 'weight'] * 2


def test_older_versions_are_migrated_one_version_at_a_time():
    saved = load_fixture('BGN')
    fixture, layer = saved['state_dict'], build_from(saved)
    layer.load_state_dict(fixture)
    old = in_model(layer).state_dict()  # the fixture's values under 'norm.', version 1
    for state in (old, dict(old)):  # version 1 in the metadata, and no metadata
        layer = MigratingBGN(8, num_groups=4)
        layer.migrated = []
        in_model(layer).load_state_dict(state)
        assert layer.migrated == [('norm.', 1), ('norm.', 2)]
        assert torch.equal(layer.bias, fixture['bias'] + 1) and torch.equal(layer.weight, fixture['weight'] * 2)
        assert torch.equal(layer.running_var, fixture['running_var'])
    current = in_model(layer).state_dict()
    assert current._metadata['norm']['version'] == 3
    again = MigratingBGN(8, num_groups=4)
    again.migrated = []
    in_model(again).load_state_dict(current)
    assert again.migrated == [] and torch.equal(again.weight, layer.weight)


def test_a_newer_version_is_refused_naming_the_layer_and_both_versions():
    newer = copy_state(in_model(build('BGN', 8, num_groups=4)).state_dict())
    newer._metadata['norm']['version'] = 2
    expected = (r"BatchGroupNorm\(8, num_groups=4, .*at 'norm': the checkpoint holds state version 2 "
                r'\(saved by BatchGroupNorm\), newer than the 1 this normdet reads')
    with pytest.raises(RuntimeError, match=expected):
        in_model(build('BGN', 8, num_groups=4)).load_state_dict(newer)


def test_torch_batchnorm_checkpoints_keep_loading():
    """Another module's entry is judged by its shapes only: torch's BatchNorm writes version 2 of its own
    layout, which is BGN's with one group per channel, and initialises SWBN without a whitening matrix when
    loaded non-strictly (W stays I)."""
    bn = nn.BatchNorm2d(8)
    bn(torch.randn(4, 8, 3, 3) * 2 + 1)
    bgn = build('BGN', 8, num_groups=8)
    bgn.load_state_dict(bn.state_dict())
    assert torch.equal(bgn.running_var, bn.running_var)
    swbn = build('SWBN', 8, group_size=4)
    result = swbn.load_state_dict(bn.state_dict(), strict=False)
    assert result.missing_keys == ['whitening_matrix'] and not result.unexpected_keys
    assert torch.equal(swbn.running_mean, bn.running_mean)
    assert torch.equal(swbn.whitening_matrix, torch.eye(4).expand(2, 4, 4))


# (type, saved layer's channels and arguments, loading layer's, key, saved shape, expected shape, what fits)
INCOMPATIBLE = [
    ('SWBN', 8, dict(group_size=4), 8, dict(group_size=2), 'whitening_matrix', (2, 4, 4), (4, 2, 2), 'group_size=4'),
    ('ItN', 8, dict(group_size=4), 8, dict(group_size=2), 'running_wm', (2, 4, 4), (4, 2, 2), 'group_size=4'),
    ('ItN', 8, dict(group_size=4), 16, dict(group_size=4), 'running_mean', (2, 4, 1), (4, 4, 1),
     'num_features=8, group_size=4'),
    ('BGN', 8, dict(num_groups=4), 8, dict(num_groups=2), 'running_mean', (4, ), (2, ), 'num_groups=4'),
    ('SyncBGN', 8, dict(num_groups=4), 8, dict(num_groups=8), 'running_var', (4, ), (8, ), 'num_groups=4'),
    ('GNPlus', 8, dict(num_groups=4), 16, dict(num_groups=4), 'running_mean', (8, ), (16, ), 'num_features=8'),
    ('GW', 8, dict(num_groups=4), 16, dict(num_groups=4), 'weight', (8, ), (16, ), 'num_features=8'),
]


@pytest.mark.parametrize('norm_type,saved_channels,saved_args,channels,args,key,saved_shape,shape,fits', INCOMPATIBLE,
                         ids=[f'{case[0]}-{case[5]}' for case in INCOMPATIBLE])
@pytest.mark.parametrize('strict', [True, False])
def test_a_tensor_of_another_shape_names_the_layer_key_shapes_and_what_fits(norm_type, saved_channels, saved_args,
                                                                             channels, args, key, saved_shape, shape,
                                                                             fits, strict):
    state = in_model(build(norm_type, saved_channels, **saved_args)).state_dict()
    layer = build(norm_type, channels, **args)
    with pytest.raises(RuntimeError) as error:
        in_model(layer).load_state_dict(state, strict=strict)
    message = str(error.value)
    expected = (f"{type(layer).__name__}({layer.extra_repr()}): 'norm.{key}' has shape {saved_shape} in the "
                f'checkpoint, {shape} in this layer; the checkpoint fits {fits}')
    assert expected in message, message
    assert 'size mismatch' not in message  # said once, by the layer


@pytest.mark.parametrize('norm_type', NORM_TYPES)
def test_a_checkpoint_without_a_tensor_is_torchs_missing_key(norm_type):
    """A missing tensor keeps torch's meaning: an error under strict loading, a missing key otherwise (as
    mmengine's non-strict load_from reports it after a config change that adds running statistics)."""
    saved = load_fixture(norm_type)
    for name in saved['state_dict']:
        incomplete = copy_state(in_model(build_from(saved)).state_dict())
        del incomplete['norm.' + name]
        with pytest.raises(RuntimeError, match=re.escape(f'"norm.{name}"')):
            in_model(build_from(saved)).load_state_dict(incomplete)
        result = in_model(build_from(saved)).load_state_dict(incomplete, strict=False)
        assert result.missing_keys == ['norm.' + name] and not result.unexpected_keys
