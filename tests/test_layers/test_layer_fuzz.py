"""Generated cases (hypothesis) for every registered layer, built as a detector builds it
(``build_norm_layer``) from its small config with the grouping, the declared choices and the affine drawn.

Drawn: channels (1 to 1024, or an invalid count), the group count or size (valid and invalid), rank 2 to
5, batch 0 to 64, spatial sizes 1 to 64 per dim (N·C·prod(spatial) capped, so that an example takes
milliseconds), float32/float64/float16/bfloat16, contiguous, channels_last or strided layouts, training or
evaluation, and values (normal, constant, all-zero, huge, tiny, one channel constant). Properties:

* valid arguments build and invalid ones raise :class:`NormConfigError` naming the layer, each wrong value
  and what is valid;
* a valid layer gives a finite output of its input's shape, dtype and layout, finite gradients and finite
  buffers, or the documented error (fewer than 2 values per batch statistic in training, as BatchNorm;
  GNPlus' per-position statistics with fewer than 2 samples);
* evaluation, after the training step, gives the same output twice and changes no state; a layer without
  running statistics (GW, GNPlus with ``batch_stats='position'``) gives in evaluation its training output;
* float64 training outputs equal the re-derivations of tests/layer_references.py.

``NORMDET_FUZZ_PROFILE=slow`` runs thousands of examples on larger inputs (and marks the tests slow, so that
``make test-fast`` never does). Both profiles are derandomized, without an example database: every run
tries the same examples.
"""
import inspect
import math
import os
import re

import pytest
import torch
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from mmcv.cnn import build_norm_layer

import normdet  # noqa: F401
from normdet.layers import (NORM_LAYERS, NORM_TYPES, BatchGroupNorm, GroupNormPlus, GroupWhitening, IterNorm,
                            NormConfigError, has_running_stats, small_norm_cfg)
from normdet.layers.base import divisors

from layer_references import authors_gnplus, reference_bgn, reference_gw, reference_itn, reference_swbn

# Examples per layer and property; the largest input, in elements N·C·prod(spatial); the largest d of the d×d
# matrices a layer whitens (GW: its group count; ItN, SWBN: their group size) in the forward cases.
PROFILES = {
    'default': dict(examples=40, max_elements=1 << 12, max_whitened=32),
    'slow': dict(examples=1000, max_elements=1 << 15, max_whitened=64),
}
PROFILE = os.environ.get('NORMDET_FUZZ_PROFILE', 'default')
if PROFILE not in PROFILES:
    raise ValueError(f'NORMDET_FUZZ_PROFILE={PROFILE!r} (valid: {", ".join(PROFILES)})')
LIMITS = PROFILES[PROFILE]
for _name, _limits in PROFILES.items():
    settings.register_profile(f'normdet-{_name}', max_examples=_limits['examples'], derandomize=True, database=None,
                              deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings.get_profile(f'normdet-{PROFILE}')
pytestmark = [pytest.mark.slow] if PROFILE == 'slow' else []

LAYERS = dict(zip(NORM_TYPES, NORM_LAYERS))
DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
VALUES = ('normal', 'constant', 'all-zero', 'huge', 'tiny', 'one channel constant')
LAYOUTS = {2: ('contiguous', 'strided'), 3: ('contiguous', 'strided'),
           4: ('contiguous', 'channels_last', 'strided'), 5: ('contiguous', 'channels_last_3d', 'strided')}
# The output's layout for each input layout: the input's, contiguous for a strided one.
FORMATS = {'contiguous': torch.contiguous_format, 'strided': torch.contiguous_format,
           'channels_last': torch.channels_last, 'channels_last_3d': torch.channels_last_3d}
# Where the suite's re-derivations apply: GW's Newton whitening (ZCA is for analysis) and GNPlus' authors'
# denominator (the default one equals torch's GroupNorm and BatchNorm, tested in test_layer_math.py).
REFERENCE_ARGUMENTS = {'GW': dict(whitening='newton'), 'GNPlus': dict(denominator='std')}


def group_argument(norm_type: str) -> str:
    """The argument the layer's small config groups its channels with: num_groups or group_size."""
    return 'num_groups' if 'num_groups' in small_norm_cfg(norm_type) else 'group_size'


def group_setting_is_valid(norm_type: str, value: int, channels: int) -> bool:
    """The documented rule: a group count must divide C, GW clipping a larger one to C ("as in the official
    code"); a group size need only be >= 1, since ItN and SWBN halve it until it divides C."""
    if value < 1:
        return False
    if group_argument(norm_type) == 'group_size':
        return True
    if norm_type == 'GW':
        value = min(value, channels)
    return channels % value == 0


def default_of(cls, name):
    return inspect.signature(cls.__init__).parameters[name].default


@st.composite
def argument_cases(draw, norm_type):
    """Channels (sometimes not positive), a group setting (a divisor of C or any integer near C's range),
    and at times one declared argument (``_choices_``, ``_lower_bounds_``) set to a valid or invalid value."""
    cls = LAYERS[norm_type]
    channels = draw(st.integers(-1, 1024))
    values = st.integers(-2, 2 * max(channels, 1) + 2)
    if channels >= 1:
        values = st.one_of(st.sampled_from(divisors(channels)), values)
    kwargs = {group_argument(norm_type): draw(values)}
    name = draw(st.sampled_from([None, *cls._choices_, *cls._lower_bounds_]))
    if name in cls._choices_:
        kwargs[name] = draw(st.one_of(st.sampled_from(cls._choices_[name]), st.text('abcklnwz_', max_size=6)))
    elif name is not None:
        lowest = cls._lower_bounds_[name]
        if isinstance(default_of(cls, name), int):
            kwargs[name] = draw(st.integers(lowest - 3, lowest + 3))
        else:
            kwargs[name] = draw(st.floats(lowest - 1, lowest + 1))
    return channels, kwargs


@pytest.mark.parametrize('norm_type', NORM_TYPES)
@settings(FUZZ, max_examples=2 * FUZZ.max_examples)
@given(data=st.data())
def test_arguments_build_or_raise_an_error_naming_each_wrong_value(norm_type, data):
    channels, kwargs = data.draw(argument_cases(norm_type))
    cls, cfg = LAYERS[norm_type], dict(small_norm_cfg(norm_type), **kwargs)
    if channels < 1:
        message = rf'{cls.__name__}: num_features must be a positive integer, got {channels}\b'
        with pytest.raises(ValueError, match=message):
            build_norm_layer(cfg, channels)
        return
    arg = group_argument(norm_type)
    wrong = [] if group_setting_is_valid(norm_type, kwargs[arg], channels) else [f'{arg}={kwargs[arg]}']
    wrong += [f'{name}={kwargs[name]!r}' for name, valid in cls._choices_.items()
              if name in kwargs and kwargs[name] not in valid]
    wrong += [f'{name}={kwargs[name]}' for name, lowest in cls._lower_bounds_.items()
              if name in kwargs and kwargs[name] < lowest]
    if not wrong:
        layer = build_norm_layer(cfg, channels)[1]
        assert channels % layer.num_groups == 0
        return
    with pytest.raises(NormConfigError) as error:
        build_norm_layer(cfg, channels)
    message = str(error.value)
    assert message.startswith(f'{cls.__name__}({channels}): ') and 'valid:' in message, message
    for value in wrong:  # each wrong value, not a longer one that starts with it (num_groups=1 in num_groups=12)
        assert re.search(re.escape(value) + r'(?![\w.])', message), (value, message)


def valid_group_settings(norm_type: str, channels: int):
    """Group counts or sizes the layer accepts at `channels`, within the whitening size of the profile."""
    if group_argument(norm_type) == 'group_size':
        return st.integers(1, LIMITS['max_whitened'])
    counts = divisors(channels)
    if norm_type == 'GW':  # g×g whitening per sample; a count above C (the paper's 64) is clipped to C
        counts = [g for g in counts if g <= LIMITS['max_whitened']] + [64] * (channels <= LIMITS['max_whitened'])
    return st.sampled_from(counts)


@st.composite
def forward_cases(draw, norm_type, dtypes=DTYPES, training=None, min_batch=0, arguments=None):
    """A valid layer config and an input for it, N·C·prod(spatial) within ``max_elements``."""
    cls = LAYERS[norm_type]
    channels = draw(st.integers(1, 1024))
    cfg = dict(small_norm_cfg(norm_type), affine=draw(st.booleans()))
    cfg[group_argument(norm_type)] = draw(valid_group_settings(norm_type, channels))
    for name, valid in cls._choices_.items():
        cfg[name] = draw(st.sampled_from(valid))
    cfg.update(arguments or {})
    rank = draw(st.integers(2, 5))
    most = max(min_batch, min(64, LIMITS['max_elements'] // channels))
    batch = draw(st.integers(min_batch, most))
    budget = LIMITS['max_elements'] // (channels * max(batch, 1))
    spatial = []
    for _ in range(rank - 2):
        spatial.append(draw(st.integers(1, max(1, min(64, budget)))))
        budget //= spatial[-1]
    return dict(cfg=cfg, shape=(batch, channels, *spatial), dtype=draw(st.sampled_from(dtypes)),
                layout=draw(st.sampled_from(LAYOUTS[rank])),
                values=draw(st.sampled_from(VALUES)),
                training=draw(st.booleans()) if training is None else training,
                seed=draw(st.integers(0, 2**16)))


def make_input(case) -> torch.Tensor:
    """The case's values in its dtype (clipped to a quarter of its range: float16 ends at 65504) and layout."""
    gen = torch.Generator().manual_seed(case['seed'])
    shape, kind = case['shape'], case['values']
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    if kind in ('constant', 'all-zero'):
        x = torch.full(shape, 3.0 if kind == 'constant' else 0.0, dtype=torch.float64)
    elif kind in ('huge', 'tiny'):
        x = x * (1e6 if kind == 'huge' else 1e-6)
    elif kind == 'one channel constant':
        x[:, 0] = 2.5
    limit = torch.finfo(case['dtype']).max / 4
    x = x.clamp(-limit, limit).to(case['dtype'])
    if case['layout'] == 'strided':  # every other element of a wider tensor: neither contiguous nor channels_last
        wide = x.new_empty(shape[:-1] + (2 * shape[-1], ))
        wide[..., ::2] = x
        return wide[..., ::2]
    return x.contiguous(memory_format=FORMATS[case['layout']])


def documented_error(layer, shape, training):
    """The ValueError message the layer documents for an input of ``shape``, or None. An empty batch
    returns an empty output before any statistic; statistics over the batch need 2 values in training (as
    BatchNorm); GNPlus' per-position ones need 2 samples in training and evaluation alike."""
    n, c = shape[:2]
    if n == 0 or isinstance(layer, GroupWhitening):
        return None
    if isinstance(layer, GroupNormPlus) and layer.batch_stats == 'position':
        return 'at least 2 samples' if n < 2 else None
    if not training:
        return None
    # BGN's statistics are per group (C/G channels by L positions), the others' per channel or channel row.
    per_statistic = n * math.prod(shape[2:]) * (c // layer.num_groups if isinstance(layer, BatchGroupNorm) else 1)
    return 'more than 1 value' if per_statistic < 2 else None


@pytest.mark.parametrize('norm_type', NORM_TYPES)
@FUZZ
@given(data=st.data())
def test_valid_layers_give_finite_outputs_gradients_and_deterministic_evaluation(norm_type, data):
    case = data.draw(forward_cases(norm_type), label='case')
    layer = build_norm_layer(case['cfg'], case['shape'][1])[1].train(case['training'])
    x = make_input(case).requires_grad_()
    error = documented_error(layer, x.shape, case['training'])
    if error:
        with pytest.raises(ValueError, match=error):
            layer(x)
        return
    y = layer(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert y.is_contiguous(memory_format=FORMATS[case['layout']])
    assert torch.isfinite(y).all()
    # ZCA's eigendecomposition gradients are unstable where eigenvalues repeat: documented, for analysis only.
    if getattr(layer, 'whitening', None) != 'zca':
        gen = torch.Generator().manual_seed(case['seed'] + 1)
        y.backward(torch.randn(y.shape, generator=gen, dtype=torch.float64).to(y.dtype))
        if x.dtype == torch.float16 and isinstance(layer, GroupNormPlus):
            # Up to dy/ε at a constant input, beyond float16's range (documented in GroupNormPlus): inf, not NaN.
            assert not torch.isnan(x.grad).any()
        else:
            assert torch.isfinite(x.grad).all()
        for name, p in layer.named_parameters():  # None: unused by an empty batch (GNPlus' mix_logit)
            assert p.grad is None or torch.isfinite(p.grad).all(), name
    for name, buf in layer.named_buffers():
        assert torch.isfinite(buf.double()).all(), name
    state = {k: v.clone() for k, v in layer.state_dict().items()}
    layer.eval()
    with torch.no_grad():
        first, second = layer(x), layer(x)
        # Half inputs are evaluated in float32 and rounded: only float16's range (65504) may give inf, e.g. ItN's
        # running W after a constant batch (W = 1/√ε) amplifying huge values.
        wide = layer(x.float()) if x.dtype in (torch.float16, torch.bfloat16) else first
    assert torch.isfinite(wide).all() and torch.equal(first, wide.to(x.dtype)) and torch.equal(first, second)
    for key, value in layer.state_dict().items():
        assert torch.equal(value, state[key]), key
    if case['training'] and not has_running_stats(layer):
        assert torch.equal(first, y.detach())


def reference_output(layer, x):
    """The training output of ``layer`` on float64 ``x`` by tests/layer_references.py, before the affine."""
    if isinstance(layer, GroupWhitening):
        return reference_gw(x, layer.num_groups, layer.T, layer.eps)
    if isinstance(layer, BatchGroupNorm):
        return reference_bgn(x, layer.num_groups, layer.eps)[0]
    if isinstance(layer, GroupNormPlus):
        dims = (0, ) if layer.batch_stats == 'position' else (0, *range(2, x.dim()))
        return authors_gnplus(x, layer.num_groups, float(layer.mix_logit), layer.eps, dims)[0]
    if isinstance(layer, IterNorm):
        return reference_itn(x, layer.group_size, layer.T, layer.eps)[0]
    return reference_swbn(x, layer.group_size, layer.whitening_matrix.numpy(), layer.whitening_lr, layer.criterion,
                          layer.symmetrize, layer.eps)[0]


@pytest.mark.parametrize('norm_type', NORM_TYPES)
@settings(FUZZ, max_examples=max(FUZZ.max_examples // 2, 1))
@given(data=st.data())
def test_float64_training_outputs_equal_the_re_derivations(norm_type, data):
    # Two samples at least: fewer give the documented error in the layers with batch statistics.
    case = data.draw(forward_cases(norm_type, dtypes=(torch.float64, ), training=True, min_batch=2,
                                   arguments=REFERENCE_ARGUMENTS.get(norm_type)), label='case')
    layer = build_norm_layer(case['cfg'], case['shape'][1])[1].double()
    if isinstance(layer, GroupNormPlus):  # the authors' unbiased std of a one-value group is NaN
        assume(math.prod(case['shape'][2:]) * layer.num_features // layer.num_groups >= 2)
    gen = torch.Generator().manual_seed(case['seed'] + 2)
    with torch.no_grad():
        for name in ('weight', 'bias', 'whitening_matrix'):  # the affine and SWBN's W away from 1, 0 and I
            t = getattr(layer, name, None)
            if t is not None:
                t.add_(0.2 * torch.randn(t.shape, generator=gen, dtype=t.dtype))
    x = make_input(case)
    expected = reference_output(layer, x)
    if layer.affine:
        shape = (1, -1) + (1, ) * (x.dim() - 2)
        expected = expected * layer.weight.detach().view(shape) + layer.bias.detach().view(shape)
    y = layer(x)
    note(f'largest |difference| {float((y - expected).abs().max()) if y.numel() else 0:.3g}')
    torch.testing.assert_close(y, expected, rtol=1e-7, atol=1e-9)
