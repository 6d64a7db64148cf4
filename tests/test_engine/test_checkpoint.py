"""normdet.engine.checkpoint: mmengine's checkpoints load with torch's weights_only loader (and nothing
else does), an interrupted checkpoint write loses nothing, and --resume finds the newest usable file."""
import errno
import io
import os
import os.path as osp
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

from tool_runs import CONFIG, REPO, TIMEOUT, load_checkpoint, make_tiny_data, tool_env


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    """Working directory holding data/shapes_tiny (the tiny config's data_root is relative)."""
    return make_tiny_data(tmp_path_factory.mktemp('checkpoint'))


def _history_buffer_checkpoint():
    from mmengine.logging import HistoryBuffer
    buffer = HistoryBuffer()
    buffer.update(1.0)
    buffer.update(3.0)
    checkpoint = dict(message_hub=dict(log_scalars={'train/loss': buffer}, runtime_info={'lr': np.float64(0.5)}),
                      state_dict={'w': torch.ones(2)})
    blob = io.BytesIO()
    torch.save(checkpoint, blob)
    return blob.getvalue()


@pytest.mark.skipif(not hasattr(torch.serialization, 'safe_globals'), reason='torch < 2.5')
def test_checkpoint_globals_load_message_hub_with_weights_only():
    from normdet.engine import mmengine_checkpoint_globals
    blob = _history_buffer_checkpoint()
    with pytest.raises(Exception):
        torch.load(io.BytesIO(blob), weights_only=True)
    before = set(torch.serialization.get_safe_globals())
    with mmengine_checkpoint_globals():
        checkpoint = torch.load(io.BytesIO(blob), weights_only=True)
    assert set(torch.serialization.get_safe_globals()) == before  # allow-list only for the load
    buffer = checkpoint['message_hub']['log_scalars']['train/loss']
    assert buffer.mean() == 2.0 and buffer.current() == 3.0
    assert checkpoint['message_hub']['runtime_info']['lr'] == 0.5


class _GetattrPayload:
    """Pickles as getattr(numpy.ndarray, 'tofile'): an attribute lookup that is not a HistoryBuffer
    statistics method."""

    def __reduce__(self):
        return getattr, (np.ndarray, 'tofile')


@pytest.mark.skipif(not hasattr(torch.serialization, 'safe_globals'), reason='torch < 2.5')
def test_checkpoint_globals_refuse_other_getattr():
    from normdet.engine import mmengine_checkpoint_globals
    blob = io.BytesIO()
    torch.save({'x': _GetattrPayload()}, blob)
    with mmengine_checkpoint_globals(), pytest.raises(Exception, match='not allowed'):
        torch.load(io.BytesIO(blob.getvalue()), weights_only=True)


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


@pytest.mark.slow
def test_process_killed_while_writing_a_checkpoint_keeps_the_previous_checkpoint(tmp_path):
    """A process that dies in the middle of the write (SIGKILL: no cleanup runs)."""
    path = tmp_path / 'iter_4.pth'
    torch.save({'iter': 4}, path)
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


@pytest.mark.skipif(not hasattr(torch.serialization, 'safe_globals'), reason='torch < 2.5')
def test_mmengine_load_checkpoint_reads_mmengine_checkpoints_once_normdet_is_imported(tmp_path):
    """mmengine.runner.load_checkpoint, which mmdet's tools/analysis_tools/benchmark.py and
    mmdet.apis.init_detector call, loads a checkpoint with a message hub (it failed under torch >= 2.6);
    the allow-list is in force only during the load, and other getattr payloads are still refused."""
    from mmengine.runner import load_checkpoint as mmengine_load_checkpoint

    import normdet  # noqa: F401  (registers the loader, as the configs' custom_imports do)
    path = tmp_path / 'iter_1.pth'
    path.write_bytes(_history_buffer_checkpoint())
    before = set(torch.serialization.get_safe_globals())
    model = torch.nn.Module()
    model.w = torch.nn.Parameter(torch.zeros(2))
    checkpoint = mmengine_load_checkpoint(model, str(path), map_location='cpu', strict=True)
    assert torch.equal(model.w.data, torch.ones(2))
    assert checkpoint['message_hub']['log_scalars']['train/loss'].mean() == 2.0
    assert set(torch.serialization.get_safe_globals()) == before
    torch.save({'state_dict': {}, 'x': _GetattrPayload()}, tmp_path / 'payload.pth')
    with pytest.raises(Exception, match='not allowed'):
        mmengine_load_checkpoint(model, str(tmp_path / 'payload.pth'), map_location='cpu')
