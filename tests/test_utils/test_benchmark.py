"""normdet.utils.benchmark, the measurements of tools/analysis_tools/benchmark_norms.py: they mean what
they say. No timings."""
import torch
import torch.nn as nn

from normdet.utils.benchmark import (NORM_CFGS, InferenceBenchmark, LayerStepBenchmark, build_layer, floor_step,
                                     peak_memory, scaled_shapes)


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
    row = LayerStepBenchmark('t', (2, 64, 64, 64), ['GN', 'GW', 'ItN'], torch.device('cpu'), repeats=5,
                             warmup=0).run()
    for name in ('GW', 'ItN'):
        assert row.memory_ratio(name) < 2.5, (name, row.memory_ratio(name))
    assert set(row.floor_seconds) == {'GW', 'ItN'}


def test_every_layer_builds_at_every_shape_channel_count():
    channels = {c for _, (_, c, _, _) in scaled_shapes(0.05)}
    for name in NORM_CFGS:
        for c in channels:
            assert build_layer(name, c)(torch.randn(2, c, 3, 3)).shape == (2, c, 3, 3)
    assert floor_step(build_layer('BN', 8), torch.randn(2, 8, 3, 3)) is None


def test_inference_benchmark_interleaves_and_discards_the_warm_up():
    """Every model in evaluation mode without gradients, A, B, A, B, ...; the warm-up rounds not in the result."""
    calls = []

    class Recorder(nn.Linear):
        def test_step(self, data):
            calls.append((self.name, self.training, torch.is_grad_enabled()))
            return self(data)

    models = {}
    for name in 'AB':
        models[name] = Recorder(4, 4).train()
        models[name].name = name
    result = InferenceBenchmark(models, torch.randn(2, 4), repeats=3, warmup=2).run()
    assert calls == [('A', False, False), ('B', False, False)] * 5
    assert set(result) == {'A', 'B'}
    assert all(0 < r['q1'] <= r['median'] <= r['q3'] for r in result.values())
