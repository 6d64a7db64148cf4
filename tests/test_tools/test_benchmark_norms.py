"""tools/analysis_tools/benchmark_norms.py's report: the Markdown tables, the issue-4 target lines, the
chart and the JSON, from a tiny measured row (in process, no timings checked)."""
import json

import torch

from normdet.utils.benchmark import LayerStepBenchmark
from tool_runs import load_script

benchmark_norms = load_script('tools/analysis_tools/benchmark_norms.py')
LAYERS = ['GN', 'BN', 'GW', 'ItN']


def test_report_of_a_measured_row(tmp_path):
    row = LayerStepBenchmark('tiny', (2, 64, 8, 8), LAYERS, torch.device('cpu'), repeats=5, warmup=0).run()
    times = benchmark_norms.format_time_table([row], LAYERS).splitlines()
    assert times[0] == '| shape | N×C×H×W | GN | BN | GW | ItN |' and len(times) == 3
    assert times[2].startswith('| tiny | 2×64×8×8 | ') and times[2].count('×floor**') == 2
    memory = benchmark_norms.format_ratio_table([row], LAYERS, 'memory_ratio').splitlines()
    assert memory[2].startswith('| tiny | 0.0 | ') and len(memory[2].split('|')) == len(LAYERS) + 4
    targets = benchmark_norms.format_targets(row)
    assert [line.split(':')[0] for line in targets] == ['GW', 'ItN']
    assert all(line.endswith((': met', ': NOT met')) and 'peak memory' in line for line in targets)
    benchmark_norms.plot_rows([row], LAYERS, str(tmp_path / 'bench.png'))
    assert (tmp_path / 'bench.png').stat().st_size > 10000
    assert json.loads(benchmark_norms.to_json(dict(rows=[row])))['rows'][0]['shape'] == [2, 64, 8, 8]


def test_e2e_table_is_relative_to_its_baseline():
    e2e = {'GN everywhere': dict(median=0.2, q1=0.1, q3=0.3), 'GW everywhere': dict(median=0.5, q1=0.4, q3=0.6)}
    lines = benchmark_norms.format_e2e(e2e, baseline='GN everywhere').splitlines()
    assert lines[2] == '| GN everywhere | 0.200 (0.100–0.300) | 1.00 |'
    assert lines[3] == '| GW everywhere | 0.500 (0.400–0.600) | 2.50 |'


def test_compiled_layer_table_is_relative_to_eager_batchnorm():
    """--compile-layers: each layer eager and compiled (backend 'eager' here: tracing only) in one row."""
    layers = ['BN', 'BGN']
    row = LayerStepBenchmark('tiny', (2, 64, 4, 4), layers, torch.device('cpu'), repeats=3, warmup=1,
                             memory=False, compile_backend='eager').run()
    assert set(row.compiled_seconds) == set(layers) and all(t > 0 for t in row.compiled_seconds.values())
    lines = benchmark_norms.format_compiled_layers([row], layers, 'eager').splitlines()
    assert lines[0] == '| shape | N×C×H×W | mode | BN | BGN |' and len(lines) == 4
    assert lines[2].startswith('| tiny | 2×64×4×4 | eager | ') and lines[2].count('(1.00×BN)') == 1
    assert lines[3].startswith('| tiny | 2×64×4×4 | compiled (eager) | ')
    assert f'({row.compiled_vs_bn("BGN"):.2f}×BN)' in lines[3]
    assert benchmark_norms.COMPILE_LAYER_SHAPES and set(benchmark_norms.COMPILE_LAYER_SHAPES) <= {
        name for name, _ in benchmark_norms.bench.scaled_shapes(0.5)}
