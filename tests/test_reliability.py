"""Reliability of training runs (issue 5): configuration errors stop a run before it starts and say
where and what; a run killed after a checkpoint resumes to the same losses; an interrupted checkpoint
write loses nothing; a dead process ends a distributed job; mixed precision trains every layer.

Most tests run tools/train.py or tools/dist_train.sh as subprocesses (see tool_runs.py). The numerics of
the layers themselves (constant, rank-deficient, extreme inputs) are in test_layer_numerics.py; SyncBGN
with an empty rank is in test_sync_bgn.py.
"""
import errno
import math
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

from tool_runs import (CONFIG, NO_VAL, REPO, TIMEOUT, free_port, load_checkpoint, logged_scalars, make_tiny_data,
                       run_log, run_tool, tool_env, train_cmd)


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    return make_tiny_data(tmp_path_factory.mktemp('reliability'))


# ---------------------------------------------------------------------------------------------------
# Configuration errors


def test_norm_cfg_paths_cover_every_position():
    from normdet.engine.checks import iter_norm_cfgs
    cfg = dict(backbone=dict(norm_cfg=dict(type='GW'), stem_norm_cfg=dict(type='BN'), norm2_cfg=dict(type='GW'),
                             downsample_norm_cfg=dict(type='BN'), conv_cfg=dict(type='Conv2d')),
               roi_head=dict(mask_head=[dict(norm_cfg=dict(type='GN', num_groups=32))]),
               neck=dict(norm_cfg=None))
    assert [path for path, _ in iter_norm_cfgs(cfg)] == [
        'model.backbone.norm_cfg', 'model.backbone.stem_norm_cfg', 'model.backbone.norm2_cfg',
        'model.backbone.downsample_norm_cfg', 'model.roi_head.mask_head.0.norm_cfg']


def test_unknown_norm_types_are_all_listed_with_the_registered_ones():
    from mmengine.registry import DefaultScope

    from normdet.engine.checks import check_norm_types
    from normdet.layers.base import NormConfigError
    cfg = dict(backbone=dict(norm_cfg=dict(type='gw')), neck=dict(norm_cfg=dict(type='SyncBNN')),
               rpn_head=dict(norm_cfg=dict(type='FrozenBN')))
    with DefaultScope.overwrite_default_scope('mmdet'):  # FrozenBN lives in mmdet's registry
        with pytest.raises(NormConfigError) as error:
            check_norm_types(cfg)
    message = str(error.value)
    assert "model.backbone.norm_cfg: unknown norm type 'gw'; did you mean 'GW'?" in message
    assert "model.neck.norm_cfg: unknown norm type 'SyncBNN'; did you mean 'SyncBN'?" in message
    assert 'rpn_head' not in message
    assert 'normdet norm types: GW, BGN, SyncBGN, GNPlus, ItN, SWBN' in message
    assert re.search(r'other registered norm types: .*\bBN\b.*\bGN\b', message)


def _detector_with(norm_cfgs):
    """A module tree shaped like a detector: {path: norm cfg} built with mmcv's build_norm_layer."""
    import torch.nn as nn
    from mmcv.cnn import build_norm_layer

    model = nn.Module()
    for path, (norm_cfg, channels) in norm_cfgs.items():
        parent = model
        *parents, leaf = path.split('.')
        for name in parents:
            if not hasattr(parent, name):
                parent.add_module(name, nn.Module())
            parent = getattr(parent, name)
        parent.add_module(leaf, build_norm_layer(norm_cfg, channels)[1])
    return model


def test_built_layers_report_every_problem_by_module_path():
    from normdet.engine.checks import check_built_norms
    from normdet.layers.base import NormConfigError, collect_config_problems
    with collect_config_problems() as problems:
        model = _detector_with({
            'backbone.layer1.0.bn2': (dict(type='GW', num_groups=64), 96),
            'backbone.layer2.0.bn2': (dict(type='GW', num_groups=64), 128),
            'neck.norm': (dict(type='BGN', num_groups=32), 48),
        })
    with pytest.raises(NormConfigError) as error:
        check_built_norms(model, problems)
    message = str(error.value)
    assert ('model.backbone.layer1.0.bn2 (GroupWhitening, 96 channels): num_groups=64 does not divide its 96 '
            'channels (valid: 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 96)') in message
    assert 'model.neck.norm (BatchGroupNorm, 48 channels): num_groups=32 does not divide' in message
    assert 'layer2' not in message


def test_gnplus_position_needs_two_images_outside_the_roi_heads():
    from normdet.engine.checks import check_built_norms
    from normdet.layers.base import NormConfigError
    position = dict(type='GNPlus', num_groups=8, batch_stats='position')
    model = _detector_with({'backbone.gn': (position, 16), 'roi_head.mask_head.gn': (position, 16)})
    check_built_norms(model, dataloader_batch_sizes={'train_dataloader': 2, 'test_dataloader': 2})
    with pytest.raises(NormConfigError) as error:
        check_built_norms(model, dataloader_batch_sizes={'train_dataloader': 2, 'test_dataloader': 1})
    message = str(error.value)
    assert "model.backbone.gn (GNPlus): batch_stats='position'" in message
    assert 'test_dataloader.batch_size=1' in message and 'train_dataloader' not in message
    assert 'roi_head' not in message


def test_sync_bgn_needs_a_process_group_when_launched_in_several_processes():
    from normdet.engine.checks import check_built_norms
    from normdet.layers.base import NormConfigError
    model = _detector_with({'backbone.bn': (dict(type='SyncBGN', num_groups=8), 16)})
    check_built_norms(model, world_size=1, distributed=False)
    check_built_norms(model, world_size=2, distributed=True)
    with pytest.raises(NormConfigError, match=r'model\.backbone\.bn \(SyncBGN\): this process is one of 2'):
        check_built_norms(model, world_size=2, distributed=False)


# One tools/train.py run per error, as a user meets it: --cfg-options on the tiny config.
CONFIG_ERRORS = {
    'unknown-type': (['model.backbone.norm_cfg.type=GWW'], {}, [
        r"model\.backbone\.norm_cfg: unknown norm type 'GWW'; did you mean 'GW'\?",
        r'normdet norm types: GW, BGN, SyncBGN, GNPlus, ItN, SWBN']),
    'group-count': (['model.backbone.norm_cfg.type=BGN', 'model.backbone.norm_cfg.num_groups=12'], {}, [
        r'model\.backbone\.bgn1 \(BatchGroupNorm, 16 channels\): num_groups=12 does not divide its 16 channels '
        r'\(valid: 1, 2, 4, 8, 16\)']),
    'syncbgn-without-process-group': (['model.backbone.norm_cfg.type=SyncBGN'], dict(WORLD_SIZE='2', RANK='0'), [
        r'model\.backbone\.bgn1 \(SyncBGN\): this process is one of 2 \(WORLD_SIZE\) but has no process group '
        r"\(launcher='none'\).*valid: --launcher pytorch"]),
    'gnplus-position-at-batch-1': ([
        'model.backbone.norm_cfg.type=GNPlus', 'model.backbone.norm_cfg.batch_stats=position',
        'train_dataloader.batch_size=1', *NO_VAL
    ], {}, [r"model\.backbone\.gnp1 \(GNPlus\): batch_stats='position' takes its statistics over the images of a "
            r"batch, but train_dataloader\.batch_size=1.*\(valid: batch_stats='channel', or batch_size >= 2\)"]),
}


@pytest.mark.parametrize('case', list(CONFIG_ERRORS))
def test_train_py_stops_on_config_error_before_training(case, workspace):
    options, env, patterns = CONFIG_ERRORS[case]
    work_dir = osp.join(workspace, f'config-error-{case}')
    proc = run_tool(train_cmd(work_dir, '--cfg-options', *options), workspace, check=False, env=tool_env(**env))
    assert proc.returncode != 0
    assert 'NormConfigError' in proc.stdout
    for pattern in patterns:
        assert re.search(pattern, proc.stdout), f'{pattern!r} not in:\n{proc.stdout[-3000:]}'
    assert 'Iter(train)' not in proc.stdout
    assert not [name for _, _, names in os.walk(work_dir) for name in names if name.endswith('.pth')]


# ---------------------------------------------------------------------------------------------------
# Interrupted training

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


def test_interrupted_checkpoint_write_keeps_the_previous_checkpoint(tmp_path):
    from normdet.engine.checkpoint import write_atomically
    path = tmp_path / 'iter_4.pth'
    torch.save({'iter': 4}, path)

    def disk_full(temp_path):
        with open(temp_path, 'wb') as f:
            f.write(b'half a checkpoint')
        raise OSError(errno.ENOSPC, 'No space left on device')

    with pytest.raises(OSError, match='No space left'):
        write_atomically(disk_full, str(path))
    assert torch.load(path) == {'iter': 4}
    assert os.listdir(tmp_path) == ['iter_4.pth']

    # A process that dies in the middle of the write (SIGKILL: no cleanup runs).
    code = (f'import os, signal, sys; sys.path.insert(0, {REPO!r})\n'
            'from normdet.engine.checkpoint import write_atomically\n'
            'def die(temp_path):\n'
            '    open(temp_path, "wb").write(b"half")\n'
            '    os.kill(os.getpid(), signal.SIGKILL)\n'
            f'write_atomically(die, {str(path)!r})\n')
    proc = subprocess.run([sys.executable, '-c', code], env=tool_env(), timeout=TIMEOUT)
    assert proc.returncode == -signal.SIGKILL
    assert torch.load(path) == {'iter': 4}


def test_runner_checkpoint_write_failure_keeps_the_previous_checkpoint(workspace, monkeypatch):
    """NormDetRunner.save_checkpoint when torch.save fails half-way (disk full) on the checkpoint's own
    name: the earlier file of that name still loads, unchanged."""
    from mmengine.config import Config

    import normdet  # noqa: F401
    from normdet.engine import build_runner
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(dict(train_cfg=dict(max_iters=1), val_cfg=None, val_dataloader=None, val_evaluator=None))
    cfg.work_dir = osp.join(workspace, 'runner-write-failure')
    cwd = os.getcwd()
    os.chdir(workspace)  # the config's data_root is relative
    try:
        runner = build_runner(cfg)
        runner.train()
    finally:
        os.chdir(cwd)
    path = osp.join(cfg.work_dir, 'iter_1.pth')
    before = load_checkpoint(path)['state_dict']

    from mmengine.fileio.backends import LocalBackend

    def disk_full(backend, obj, filepath):
        with open(filepath, 'wb') as f:
            f.write(obj[:len(obj) // 2])
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(LocalBackend, 'put', disk_full)
    with pytest.raises(OSError, match='No space left'):
        runner.save_checkpoint(cfg.work_dir, 'iter_1.pth')
    monkeypatch.undo()
    after = load_checkpoint(path)['state_dict']
    for key in before:
        torch.testing.assert_close(after[key], before[key], rtol=0, atol=0)
    assert not [name for name in os.listdir(cfg.work_dir) if name.endswith('.tmp')]


def test_resume_without_a_usable_last_checkpoint_record_takes_the_newest(tmp_path):
    from normdet.engine.checkpoint import find_resumable_checkpoint
    assert find_resumable_checkpoint(str(tmp_path)) is None
    old, new = tmp_path / 'iter_4.pth', tmp_path / 'iter_8.pth'
    old.write_bytes(b'4')
    new.write_bytes(b'8')
    os.utime(old, (1, 1))
    (tmp_path / 'last_checkpoint').write_text(str(old))
    assert find_resumable_checkpoint(str(tmp_path)) == str(old)  # the record wins when it is usable
    for record in ('', str(tmp_path / 'iter_12.pth')):  # truncated, or naming a file never completed
        (tmp_path / 'last_checkpoint').write_text(record)
        assert find_resumable_checkpoint(str(tmp_path)) == str(new)
    (tmp_path / 'last_checkpoint').unlink()
    assert find_resumable_checkpoint(str(tmp_path)) == str(new)


# ---------------------------------------------------------------------------------------------------
# Distributed faults

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


# ---------------------------------------------------------------------------------------------------
# Mixed precision

AMP_ITERS = 200
AMP_CONFIGS = {
    'GW': 'mask-rcnn_r18-w32_fpn_gw-paper_1200it_shapes.py',
    'BGN': 'mask-rcnn_r18-w32_fpn_bgn_1200it_shapes.py',
    'GNPlus': 'mask-rcnn_r18-w32_fpn_gnplus_1200it_shapes.py',
    'ItN': 'mask-rcnn_r18-w32_fpn_itn_1200it_shapes.py',
    'SWBN': 'mask-rcnn_r18-w32_fpn_swbn_1200it_shapes.py',
}


@pytest.fixture(scope='module')
def demo_workspace(tmp_path_factory):
    """data/shapes as the demo configs expect it (same generator settings), with fewer images."""
    from mmengine.config import Config

    from normdet.datasets.shapes import generate_shapes_dataset
    root = tmp_path_factory.mktemp('amp')
    shapes_cfg = dict(Config.fromfile(osp.join(REPO, 'configs', 'demo', AMP_CONFIGS['BGN'])).shapes_cfg)
    shapes_cfg.update(num_train=40, num_val=2)
    generate_shapes_dataset(osp.join(root, 'data', 'shapes'), **shapes_cfg)
    return str(root)


@pytest.mark.parametrize('norm', list(AMP_CONFIGS))
def test_amp_trains_the_demo_model_for_200_iterations(norm, demo_workspace):
    work_dir = osp.join(demo_workspace, f'amp-{norm}')
    config = osp.join(REPO, 'configs', 'demo', AMP_CONFIGS[norm])
    run_tool(train_cmd(work_dir, '--amp', '--cfg-options', f'train_cfg.max_iters={AMP_ITERS}',
                       'default_hooks.logger.interval=1', f'default_hooks.checkpoint.interval={AMP_ITERS}', *NO_VAL,
                       config=config), demo_workspace, env=tool_env(OMP_NUM_THREADS='2'))
    assert 'CPUAmpOptimWrapper' in run_log(work_dir)
    scalars = logged_scalars(work_dir)
    assert sorted(scalars) == list(range(1, AMP_ITERS + 1))
    bad = {it: s['loss'] for it, s in scalars.items() if not math.isfinite(s['loss'])}
    assert not bad, f'non-finite losses: {bad}'
    state = load_checkpoint(osp.join(work_dir, f'iter_{AMP_ITERS}.pth'))['state_dict']
    stats = {k: v for k, v in state.items()
             if k.rsplit('.', 1)[-1] in ('running_mean', 'running_var', 'running_wm', 'whitening_matrix')}
    if norm != 'GW':  # GW keeps no statistics
        assert stats
    for key, value in stats.items():
        assert value.dtype == torch.float32, key
        assert torch.isfinite(value).all(), key
