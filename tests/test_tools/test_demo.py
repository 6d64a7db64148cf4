"""demo/shapes_demo.py and demo/compare_norms.py: the compared configs, the demo end to end on a tiny data
set and schedule (a subprocess training, marked slow), and the comparison's table and plot."""
import json
import os.path as osp
import re
import subprocess
import sys

import pytest

from normdet.datasets import SHAPES_METAINFO
from tool_runs import REPO, dataset_classes, load_script

compare_norms = load_script('demo/compare_norms.py')
TINY = [
    'shapes_cfg.num_train=4', 'shapes_cfg.num_val=2', 'shapes_cfg.image_size=128', 'train_cfg.max_iters=2',
    'param_scheduler.0.end=1', 'param_scheduler.1.begin=1', 'param_scheduler.1.end=2', 'param_scheduler.1.T_max=1',
    'default_hooks.logger.interval=1',
    'default_hooks.checkpoint.interval=2'
]


@pytest.fixture(scope='module')
def compared():
    """compare_norms.compared_configs(), read once (it parses every demo config)."""
    return compare_norms.compared_configs()


def test_demo_configs_exist_and_use_the_shapes_metainfo(compared):
    from mmengine.config import Config
    for config in compared.values():
        cfg = Config.fromfile(osp.join(REPO, config))
        assert dataset_classes(cfg.train_dataloader.dataset) == SHAPES_METAINFO['classes']
        assert cfg.model.roi_head.bbox_head.num_classes == len(SHAPES_METAINFO['classes'])


def test_compared_configs_are_the_rows_of_the_published_comparison(compared):
    """Names, order and configs of results/compare.md, derived from the files of configs/demo/."""
    with open(osp.join(REPO, 'results', 'compare.md')) as f:
        rows = [re.match(r'\| (.+?) \|.*\| `(.+)` \|$', line).groups() for line in f.read().splitlines()[2:]]
    assert list(compared.items()) == rows


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path):
    """demo/shapes_demo.py with its default config generates the data, trains, evaluates and writes its
    results, from any directory."""
    out = subprocess.run([sys.executable, osp.join(REPO, 'demo', 'shapes_demo.py'), '--work-dir', 'work',
                          '--cfg-options', *TINY],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'box AP' in out.stdout and 'mask AP' in out.stdout
    result = json.loads((tmp_path / 'work' / 'demo_results.json').read_text())
    assert result['iterations'] == 2 and 0 <= result['box AP'] <= 1
    assert (tmp_path / 'work' / 'iter_2.pth').is_file()
    assert (tmp_path / 'data' / 'shapes' / 'annotations' / 'instances_val.json').is_file()


def test_compare_outputs(compared, tmp_path):
    results = {
        name: {'box AP': 0.5 + i / 100, 'AP50': 0.8, 'mask AP': 0.4, 'seconds_per_iter': 0.3,
               'peak_memory_mb': 1000.0, 'config': config, 'loss_curve': [[50, 100], [2.0, 1.5]]}
        for i, (name, config) in enumerate(compared.items())
    }
    table = compare_norms.format_compare_table(results)
    assert table.count('\n') == len(results) + 1 and '| GN | 0.510 |' in table
    compare_norms.plot_compare(results, str(tmp_path / 'compare.png'))
    assert (tmp_path / 'compare.png').stat().st_size > 10000


def test_reused_runs_get_the_inference_columns(tmp_path, monkeypatch):
    """--reuse-runs reads finished runs (no training: the interpreter given cannot run one) and the
    inference pass adds ms per image, folded ms per image (BGN folds, GN has nothing to fold) and GFLOPs,
    these equal to get_flops' count of the same checkpoint at the test image's size."""
    import math

    import torch

    from normdet.engine.entrypoints import build_model
    from tool_runs import CONFIG, make_tiny_data

    make_tiny_data(tmp_path)
    monkeypatch.chdir(tmp_path)
    bgn_config = tmp_path / 'tiny_bgn.py'
    bgn_config.write_text(f'_base_ = {CONFIG!r}\nmodel = dict(backbone=dict(norm_cfg=dict(type="BGN", num_groups=4)))\n')
    configs = {'GN': CONFIG, 'BGN': str(bgn_config)}  # absolute: osp.join(REPO, config) keeps them
    for name, config in configs.items():
        work_dir = tmp_path / 'runs' / osp.splitext(osp.basename(config))[0]
        work_dir.mkdir(parents=True)
        torch.save({'state_dict': build_model(config)[1].state_dict()}, work_dir / 'iter_2.pth')
        (work_dir / 'demo_results.json').write_text(json.dumps({
            'box AP': 0.1, 'AP50': 0.2, 'mask AP': 0.1, 'seconds_per_iter': 0.5, 'peak_memory_mb': 900.0,
            'iterations': 2, 'checkpoint': 'elsewhere/iter_2.pth'}))
    results = compare_norms.compare_norms(configs, str(tmp_path / 'out'), work_root=str(tmp_path / 'runs'),
                                          python='/bin/false', reuse_runs=True, inference_repeats=2,
                                          inference_warmup=1)
    rows = (tmp_path / 'out' / 'compare.md').read_text().splitlines()
    header = [c.strip() for c in rows[0].strip('|').split('|')]
    assert header[6:9] == ['ms / image', 'ms / image folded', 'GFLOPs'] and len(rows) == 2 + len(configs)
    cells = {row.split('|')[1].strip(): [c.strip() for c in row.strip('|').split('|')] for row in rows[2:]}
    assert cells['GN'][7] == '–' and float(cells['BGN'][7]) > 0
    saved = json.loads((tmp_path / 'out' / 'compare.json').read_text())
    get_flops = load_script('tools/analysis_tools/get_flops.py')
    for name, r in saved.items():
        assert r['inference_shape'] == [128, 128] and r['inference_repeats'] == 2
        assert 0 < r['ms_per_image_q1'] <= r['ms_per_image'] <= r['ms_per_image_q3'] < math.inf
        work_dir = tmp_path / 'runs' / osp.splitext(osp.basename(configs[name]))[0]
        with torch.no_grad():
            analyzer, params = get_flops.count(configs[name], 128, 128, checkpoint=str(work_dir / 'iter_2.pth'))
        assert r['gflops'] == pytest.approx(analyzer.total() / 1e9) and r['params'] == params
    assert saved['GN']['folded_ms_per_image'] is None and saved['GN']['folded_layers'] == 0
    assert saved['BGN']['folded_layers'] == saved['BGN']['normdet_layers'] > 0
    assert 0 < saved['BGN']['folded_ms_per_image'] < math.inf
    assert results['BGN']['gflops'] == saved['BGN']['gflops'] > 0
    # A run of another length, or one whose checkpoint is gone, is not a finished run of the config.
    work_dir = tmp_path / 'runs' / osp.splitext(osp.basename(CONFIG))[0]
    assert compare_norms.finished_run(str(work_dir), CONFIG)
    (work_dir / 'iter_2.pth').rename(work_dir / 'iter_1.pth')
    assert not compare_norms.finished_run(str(work_dir), CONFIG)
    (work_dir / 'demo_results.json').write_text(json.dumps({'iterations': 1, 'checkpoint': 'iter_1.pth'}))
    assert not compare_norms.finished_run(str(work_dir), CONFIG)
