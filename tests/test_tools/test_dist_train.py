"""tools/dist_train.sh end to end on CPU: two gloo processes, two nodes over loopback, and a dead rank
(SIGKILL or an exception, injected by tests/data/rank_failure_hook.py) that ends the job with its rank
and cause. Every test launches several tools/train.py processes (marked slow).
"""
import os
import os.path as osp
import re
import signal
import subprocess
import time

import pytest

from tool_runs import CONFIG, NO_VAL, REPO, TIMEOUT, free_port, make_tiny_data, run_log, run_tool, tool_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    """Working directory holding data/shapes_tiny (the tiny config's data_root is relative)."""
    return make_tiny_data(tmp_path_factory.mktemp('dist_train'))


def test_dist_train_two_gloo_processes(workspace):
    work_dir = osp.join(workspace, 'dist')
    env_port = str(free_port())
    cmd = ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), CONFIG, '2', '--work-dir', work_dir,
           '--cfg-options', *NO_VAL]
    proc = subprocess.run(cmd, cwd=workspace, env=dict(tool_env(), PORT=env_port), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
    log = run_log(work_dir)
    assert "distributed training on CPU with the 'gloo' backend (config asked for 'nccl')" in log
    assert 'GPU number: 2' in log  # mmengine's name for the world size


def test_two_nodes_over_loopback(workspace):
    """NNODES=2, one process per node, both nodes on this machine, as two tools/dist_train.sh calls."""
    work_dir = osp.join(workspace, 'nodes')
    port = str(free_port())
    procs = []
    for node_rank in (0, 1):
        env = dict(tool_env(), NNODES='2', NODE_RANK=str(node_rank), MASTER_ADDR='127.0.0.1', PORT=port)
        cmd = ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), CONFIG, '1', '--work-dir', work_dir,
               '--cfg-options', *NO_VAL]
        procs.append(subprocess.Popen(cmd, cwd=workspace, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True, start_new_session=True))
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=TIMEOUT)[0])
    finally:
        for proc in procs:
            if proc.poll() is None:  # only our own process groups
                os.killpg(proc.pid, signal.SIGKILL)
    for node_rank, (proc, out) in enumerate(zip(procs, outputs)):
        assert proc.returncode == 0, f'node {node_rank}:\n{out[-6000:]}'
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
    assert 'GPU number: 2' in run_log(work_dir)


RANK_DEATH_BOUND = 120  # seconds from launch to exit, start-up (~20 s for 2 processes) included


@pytest.mark.parametrize('how', ['sigkill', 'raise'])
def test_dead_rank_ends_the_job_with_rank_and_cause(how, workspace, tmp_path):
    config = tmp_path / f'fail_rank_{how}.py'
    config.write_text(f"_base_ = {CONFIG!r}\n"
                      "custom_imports = dict(imports=['normdet', 'rank_failure_hook'], allow_failed_imports=False)\n"
                      f"custom_hooks = [dict(type='FailRankHook', rank=1, at_iter=3, how={how!r})]\n")
    work_dir = osp.join(workspace, f'rank-death-{how}')
    cmd = ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), str(config), '2', '--work-dir', work_dir,
           '--cfg-options', 'train_cfg.max_iters=1000', *NO_VAL]
    env = tool_env(PORT=str(free_port()), PYTHONPATH=osp.join(REPO, 'tests', 'data'))
    start = time.monotonic()
    proc = run_tool(cmd, workspace, check=False, env=env)
    elapsed = time.monotonic() - start
    assert proc.returncode != 0
    assert elapsed < RANK_DEATH_BOUND, f'{elapsed:.0f} s'
    out = proc.stdout
    assert re.search(r'rank\s*:\s*1 \(local_rank: 1\)', out), out[-4000:]
    if how == 'sigkill':
        assert 'Signal 9 (SIGKILL) received by PID' in out
    else:
        assert 'RuntimeError: injected failure on rank 1 at iteration 3' in out
    assert 'Iter(train) [   3/1000]' not in run_log(work_dir)
