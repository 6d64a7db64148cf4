"""make paper-table end to end on a tiny schedule: 3 pretrainings, 12 detectors, the report."""
import json
import os.path as osp
import re
import subprocess
import sys

import pytest

from tool_runs import REPO, TIMEOUT, load_script, tool_env


def test_the_full_size_run_passes_no_empty_cfg_options(monkeypatch, tmp_path):
    """At full size nothing is overridden: the commands carry no --cfg-options (argparse refuses the flag
    without values, which stopped the first real `make paper-table`)."""
    paper_table = load_script('demo/paper_table.py')
    commands = []

    class Stop(Exception):
        pass

    def first_cell(cmd, *args):
        commands.append(cmd)
        raise Stop

    monkeypatch.setattr(paper_table, 'run_cell', first_cell)
    with pytest.raises(Stop):
        paper_table.paper_table(str(tmp_path / 'out'), str(tmp_path / 'work'))
    assert '--cfg-options' not in commands[0]
    assert paper_table.cfg_options() == [] and paper_table.cfg_options('a=1') == ['--cfg-options', 'a=1']


@pytest.mark.slow
def test_paper_table_runs_end_to_end_on_a_tiny_schedule(tmp_path):
    out = tmp_path / 'results'
    cmd = [sys.executable, osp.join(REPO, 'demo', 'paper_table.py'), '--out', str(out), '--pretrain-iters', '2',
           '--det-iters', '2', '--num-crops', '32', '--num-images', '8']
    proc = subprocess.run(cmd, cwd=tmp_path, env=tool_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=2 * TIMEOUT)
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert len(re.findall(r'^\[\d+/15\] ', proc.stdout, re.M)) == 15  # a progress line per cell
    assert {p.name for p in out.iterdir()} == {'paper_table.md', 'paper_table.json', 'paper_table.png'}
    results = json.loads((out / 'paper_table.json').read_text())
    assert sorted(results['pretrain']) == ['BN-frozen', 'GN', 'GW']
    # The paper's six numbers (Table 2 of arXiv 2009.13333), each beside our two cells.
    paper = {('BN-frozen', '2fc'): 36.31, ('GN', '2fc'): 36.32, ('GW', '2fc'): 38.13,
             ('BN-frozen', '4conv1fc'): 36.39, ('GN', '4conv1fc'): 37.86, ('GW', '4conv1fc'): 39.60}
    table = (out / 'paper_table.md').read_text()
    for (row, head), ap in paper.items():
        pre = results['detection'][f'{row}|{head}|pretrained']
        scratch = results['detection'][f'{row}|{head}|scratch']
        assert pre['paper_box_ap'] == ap
        line = next(line for line in table.splitlines() if line.startswith(f'| {row} | {head} | {ap:.2f} |'))
        assert f'{pre["box AP"] - scratch["box AP"]:+.3f}' in line
        # Pretrained cells load their row's classifier checkpoint; scratch cells load nothing.
        checkpoint = results['pretrain'][row]['checkpoint']
        assert osp.isfile(checkpoint)
        assert _log_mentions(tmp_path / pre['work_dir'], f'load from {checkpoint}')
        assert not _log_mentions(tmp_path / scratch['work_dir'], 'PretrainedInit')


def _log_mentions(work_dir, text):
    return any(text in path.read_text() for path in work_dir.glob('*/*.log'))
