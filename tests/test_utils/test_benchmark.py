"""normdet.utils.benchmark, the measurements of tools/analysis_tools/benchmark_norms.py: they mean what
they say (bytes saved for backward against the autograd graph's own record, the Newton floor's matmuls
against a count of the iteration's). No timings."""
import pytest
import torch
import torch.nn as nn
from torch.utils._python_dispatch import TorchDispatchMode

from normdet.layers.whitening import newton_schulz_whitening, newton_schulz_whitening_backward
from normdet.utils.benchmark import (NORM_CFGS, BaseBenchmark, CompiledIterationBenchmark, InferenceBenchmark,
                                     LayerStepBenchmark, TrainingStepBenchmark, build_layer, drop_pretrained,
                                     floor_step, newton_matmuls, peak_memory, saved_tensor_bytes, scaled_shapes)


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


def graph_saved_bytes(out):
    """Bytes of the tensors the autograd graph of `out` holds for backward, read off its nodes (``_saved_*``
    attributes of torch's nodes, ``saved_tensors`` of custom Functions), each storage once."""
    storages, seen, nodes = {}, set(), [out.grad_fn]
    while nodes:
        node = nodes.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        values = []
        for attr in dir(node):
            if attr.startswith('_saved_') or attr == 'saved_tensors':
                value = getattr(node, attr)
                values += list(value) if isinstance(value, (tuple, list)) else [value]
        for value in values:
            if isinstance(value, torch.Tensor) and value.untyped_storage().data_ptr():
                storages[value.untyped_storage().data_ptr()] = value.untyped_storage().nbytes()
        nodes += [next_node for next_node, _ in node.next_functions]
    return sum(storages.values())


def test_saved_bytes_match_the_graph_and_batchnorm_keeps_about_the_input():
    x = torch.randn(2, 64, 16, 16)
    for name in ('BN', 'GN', 'GW', 'ItN'):
        layer = build_layer(name, 64).train()
        xr = x.clone().requires_grad_()
        assert saved_tensor_bytes(layer, x) == graph_saved_bytes(layer(xr)), name
    bn = nn.BatchNorm2d(64)
    ratio = saved_tensor_bytes(bn, x) / (x.numel() * 4)
    # the input, plus weight, running mean and variance, and the batch's mean and inverse std: 5·C floats
    assert ratio == 1 + 5 * 64 / x.numel()


class CountMatmuls(TorchDispatchMode):
    """The shapes of the first factor of every batched matmul dispatched (bmm, baddbmm, baddbmm_)."""

    def __init__(self):
        super().__init__()
        self.shapes = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        aten = torch.ops.aten
        if func.overloadpacket in (aten.bmm, aten.baddbmm, aten.baddbmm_):
            self.shapes.append(tuple(args[0 if func.overloadpacket is aten.bmm else 1].shape))
        return func(*args, **(kwargs or {}))


def test_newton_matmul_count_is_the_iterations():
    # Forward, per iteration after P_1: P², P³, the baddbmm update = 3; backward: those 3 recomputed, then
    # dQ, the dΣ_N term, dP², and the three terms of dP = 6 more. T = 5: 4 iterations with matmuls.
    assert newton_matmuls(5) == (12, 36) and newton_matmuls(1) == (0, 0) and newton_matmuls(0) == (0, 0)
    a = torch.randn(3, 8, 20)
    sigma = a @ a.transpose(1, 2) / 20 + torch.eye(8)
    with CountMatmuls() as fwd:
        newton_schulz_whitening(sigma, 5)
    with CountMatmuls() as bwd:
        newton_schulz_whitening_backward(sigma, 5, torch.randn(3, 8, 8))
    assert (len(fwd.shapes), len(bwd.shapes)) == newton_matmuls(5)


def test_floor_newton_runs_the_five_big_and_the_newton_matmuls():
    """GW whitens each of the 2 samples, ItN each of its C/g groups: 5 matmuls of the input's size, then
    12 + 36 of (B, g, g) for T = 5."""
    x = torch.randn(2, 64, 8, 8)
    gw, itn = build_layer('GW', 64), build_layer('ItN', 64)
    for layer, batch in ((gw, 2), (itn, 64 // itn.whitened_dim)):
        g = layer.whitened_dim
        assert layer.T == 5
        with CountMatmuls() as plain:
            floor_step(layer, x)()
        with CountMatmuls() as newton:
            floor_step(layer, x, newton=True)()
        assert len(plain.shapes) == 5 and plain.shapes[0] == (batch, g, x.numel() // (batch * g))
        assert newton.shapes[:5] == plain.shapes
        assert newton.shapes[5:] == [(batch, g, g)] * 48


def test_training_step_at_random_init_reads_no_weights(monkeypatch):
    """The BN-frozen config's backbone loads torchvision's ResNet-50; the benchmark drops that, and any
    checkpoint load would fail here."""
    from mmengine.runner.checkpoint import CheckpointLoader

    from config_files import load_config

    def no_load(*args, **kwargs):
        raise AssertionError('a checkpoint was loaded')

    monkeypatch.setattr(CheckpointLoader, 'load_checkpoint', no_load)
    cfg = load_config('gw', 'faster-rcnn-4conv1fc_r50_fpn_bn-frozen_90k_coco.py')
    assert cfg.model.backbone.init_cfg.type == 'Pretrained'
    assert drop_pretrained(cfg).model.backbone.init_cfg is None and cfg.model.backbone.init_cfg is not None
    cfg.model.train_cfg.rpn_proposal.max_per_img = cfg.model.train_cfg.rcnn.sampler.num = 16
    bench = TrainingStepBenchmark({'BN-frozen': cfg}, image_size=(64, 96), repeats=2)
    assert bench.data[0]['inputs'][0].shape == (3, 64, 96) and len(bench.data[0]['data_samples']) == 1
    result = bench.run()['BN-frozen']
    assert len(result['rounds']) == 2 and result['best'] == min(result['rounds'])


def test_compiled_and_eager_demo_models_start_equal_and_compute_alike():
    """Both built from one seed; the compiled backbone (backend 'eager': traced by dynamo, run by the same
    kernels) computes what its uncompiled forward does, after the timed iterations too."""
    from config_files import load_config
    bench = CompiledIterationBenchmark({'GN': load_config('demo', 'mask-rcnn_r18-w32_fpn_gn_400it_shapes.py')},
                                       backend='eager', modules=('backbone', 'no_such_module'), iterations=1,
                                       warmup=1, batches=1)
    assert bench.compiled == {'GN': ['backbone']}
    eager, compiled = bench.models['GN eager'][0], bench.models['GN compiled'][0]
    for (name, a), b in zip(eager.state_dict().items(), compiled.state_dict().values()):
        assert torch.equal(a, b), name
    result = bench.run()['GN']
    assert set(result) == {'eager', 'compiled'} and all(r['warmup'] > 0 and r['median'] > 0 for r in result.values())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(compiled.backbone(x), compiled.backbone.forward(x)):
            assert torch.allclose(a, b, atol=1e-5)


def test_compiled_steps_need_a_discarded_round():
    with pytest.raises(ValueError, match='warmup >= 1'):
        LayerStepBenchmark('tiny', (2, 64, 4, 4), ['BN'], torch.device('cpu'), warmup=0, compile_backend='eager')


def test_layer_steps_change_their_order_each_round():
    bench = LayerStepBenchmark('tiny', (2, 64, 4, 4), ['BN', 'GN', 'BGN', 'GW'], torch.device('cpu'), memory=False)
    order = []
    bench.steps = {name: (lambda name=name: order.append(name)) for name in bench.steps}
    rounds = []
    for _ in range(6):
        bench.run_once()
        rounds.append(tuple(order))
        order.clear()
    assert all(sorted(r) == sorted(bench.steps) for r in rounds)
    predecessors = {r[r.index('BGN') - 1] for r in rounds if r.index('BGN') > 0}
    assert len(set(rounds)) > 1 and len(predecessors) > 1


def test_short_rounds_repeat_until_the_minimum_time():
    class Rounds(BaseBenchmark):
        def run_once(self):
            return {'step': 0.01}

        def summarise(self, times):
            return times['step']

    assert len(Rounds(repeats=5, warmup=1).run()) == 5
    assert len(Rounds(repeats=5, warmup=1, min_seconds=0.195).run()) == 20
    assert len(Rounds(repeats=5, warmup=1, min_seconds=10.0).run()) == 99  # 20·5 rounds, 1 discarded
