"""normdet.engine.rng with the runner: a training run killed (SIGKILL) after a checkpoint resumes to the
same losses and final weights as the uninterrupted run (tools/train.py subprocesses, marked slow)."""
import os
import os.path as osp
import re
import signal
import subprocess
import time

import pytest
import torch

from tool_runs import (NO_VAL, TIMEOUT, load_checkpoint, logged_scalars, make_tiny_data, run_tool, tool_env,
                       train_cmd)

pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    """Working directory holding data/shapes_tiny (the tiny config's data_root is relative)."""
    return make_tiny_data(tmp_path_factory.mktemp('rng'))


RESUME_ITERS, RESUME_INTERVAL = 12, 4
RESUME_OPTIONS = [f'train_cfg.max_iters={RESUME_ITERS}', f'default_hooks.checkpoint.interval={RESUME_INTERVAL}',
                  'randomness.seed=0', 'randomness.deterministic=True', *NO_VAL]
RESUME_NORMS = {
    'BGN': ['model.backbone.norm_cfg.type=BGN', 'model.neck.norm_cfg.type=BGN'],
    # whitening_lr 1e-3 (the demo's) so that the whitening matrix moves visibly in 12 iterations
    'SWBN': ['model.backbone.norm_cfg._delete_=True', 'model.backbone.norm_cfg.type=SWBN',
             'model.backbone.norm_cfg.num_channels=8', 'model.backbone.norm_cfg.whitening_lr=0.001'],
}


def _kill_after_first_checkpoint(cmd, cwd, work_dir):
    """Start ``cmd``; SIGKILL it as soon as its first checkpoint exists (written atomically, so existing
    means complete). Returns the killed process."""
    first = osp.join(work_dir, f'iter_{RESUME_INTERVAL}.pth')
    with open(osp.join(cwd, f'{osp.basename(work_dir)}.out'), 'w') as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=tool_env(), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        deadline = time.monotonic() + TIMEOUT
        try:
            while not osp.exists(first) and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc


@pytest.mark.parametrize('norm', list(RESUME_NORMS))
def test_sigkill_after_checkpoint_then_resume_gives_the_same_losses(norm, workspace):
    options = RESUME_OPTIONS + RESUME_NORMS[norm]
    reference = osp.join(workspace, f'resume-{norm}-reference')
    run_tool(train_cmd(reference, '--cfg-options', *options), workspace)

    interrupted = osp.join(workspace, f'resume-{norm}-interrupted')
    killed = _kill_after_first_checkpoint(train_cmd(interrupted, '--cfg-options', *options), workspace,
                                          interrupted)
    assert killed.returncode == -signal.SIGKILL
    assert not osp.exists(osp.join(interrupted, f'iter_{RESUME_ITERS}.pth')), 'finished before the kill'
    out = run_tool(train_cmd(interrupted, '--resume', '--cfg-options', *options), workspace).stdout
    resumed_from = int(re.search(r'Auto resume: continuing from \S*iter_(\d+)\.pth', out).group(1))
    assert resumed_from < RESUME_ITERS

    expected, got = logged_scalars(reference), logged_scalars(interrupted)
    loss_keys = [key for key in expected[RESUME_ITERS] if key.startswith('loss')]
    for it in range(resumed_from + 1, RESUME_ITERS + 1):
        for key in loss_keys:
            assert got[it][key] == expected[it][key], f'iteration {it} {key}: {got[it][key]} != {expected[it][key]}'

    final_expected = load_checkpoint(osp.join(reference, f'iter_{RESUME_ITERS}.pth'))['state_dict']
    final_got = load_checkpoint(osp.join(interrupted, f'iter_{RESUME_ITERS}.pth'))['state_dict']
    assert final_got.keys() == final_expected.keys()
    for key in final_expected:  # weights, running statistics, whitening matrices
        torch.testing.assert_close(final_got[key], final_expected[key], rtol=0, atol=0, msg=key)
    if norm == 'SWBN':
        whitening = [v for k, v in final_expected.items() if k.endswith('whitening_matrix')]
        assert whitening and not torch.equal(whitening[0], torch.eye(8).expand_as(whitening[0]))

