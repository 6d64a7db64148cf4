"""tools/train.py, tools/test.py and tools/dist_train.sh end to end on CPU, plus the engine pieces they
rely on (checkpoint allow-list, CPU mixed precision).

The end-to-end tests run the tools as subprocesses on a tiny Mask R-CNN (tests/data/configs/) trained
for 2 iterations on 4 generated 128 px images; every subprocess pays ~5-10 s of imports.
"""
import io
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

from tool_runs import (CONFIG, NO_VAL, REPO, TIMEOUT, free_port, load_checkpoint, make_tiny_data, run_log,
                       run_tool, tool_env, train_cmd)


def _train(cwd, work_dir, *args):
    return run_tool(train_cmd(work_dir, *args), cwd).stdout


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    """Working directory holding data/shapes_tiny (the config's data_root is relative)."""
    return make_tiny_data(tmp_path_factory.mktemp('tools'))


@pytest.fixture(scope='module')
def trained(workspace):
    """tools/train.py: 2 iterations, then validation; returns the work dir."""
    work_dir = osp.join(workspace, 'train')
    _train(workspace, work_dir)
    return work_dir


def test_tiny_config_classes_match_shapes():
    from mmengine.config import Config

    from normdet.datasets.shapes import SHAPES_CLASSES
    cfg = Config.fromfile(CONFIG)
    assert cfg.train_dataloader.dataset.metainfo.classes == SHAPES_CLASSES
    assert cfg.model.roi_head.bbox_head.num_classes == len(SHAPES_CLASSES)


def test_train_writes_checkpoint_and_validates(trained):
    ckpt = osp.join(trained, 'iter_2.pth')
    assert osp.isfile(ckpt)
    assert load_checkpoint(ckpt)['meta']['iter'] == 2
    log = run_log(trained)
    assert 'coco/bbox_mAP' in log and 'coco/segm_mAP' in log


def test_checkpoint_needs_more_than_torch_default_globals(trained):
    # What makes test.py/--resume/load_from fail with mmengine's plain torch.load on torch >= 2.6.
    unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(osp.join(trained, 'iter_2.pth'))
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in unsafe


def test_test_py_loads_checkpoint(trained, workspace):
    work_dir = osp.join(workspace, 'test')
    out = osp.join(work_dir, 'results.pkl')
    run_tool([sys.executable, osp.join(REPO, 'tools', 'test.py'), CONFIG, osp.join(trained, 'iter_2.pth'),
          '--work-dir', work_dir, '--out', out], workspace)
    log = run_log(work_dir)
    assert 'Load checkpoint from' in log and 'coco/segm_mAP' in log
    import pickle
    with open(out, 'rb') as f:
        assert len(pickle.load(f)) == 2  # one prediction per val image


def test_resume_continues_from_latest_checkpoint(trained, workspace):
    work_dir = osp.join(workspace, 'resume')
    shutil.copytree(trained, work_dir)
    _train(workspace, work_dir, '--resume', '--cfg-options', 'train_cfg.max_iters=3', *NO_VAL)
    assert 'resumed epoch: 0, iter: 2' in run_log(work_dir)
    resumed = load_checkpoint(osp.join(work_dir, 'iter_3.pth'))
    assert resumed['meta']['iter'] == 3
    # the optimizer state came along: SGD momentum buffers exist for the resumed parameters
    assert resumed['optimizer']['state']


def test_load_from_pretrained_init_and_amp_on_cpu(trained, workspace):
    """One run for three things (each run costs ~10 s): ``load_from``, a backbone ``init_cfg`` of type
    Pretrained pointing at an mmengine checkpoint, and ``--amp`` on CPU.

    lr=0 leaves the weights as loaded, so the checkpoint written after 1 iteration must hold exactly the
    weights of the one given to load_from (a fresh initialization would differ)."""
    work_dir = osp.join(workspace, 'load_from')
    source = osp.join(trained, 'iter_2.pth')
    pretrained = ['model.backbone.init_cfg._delete_=True', 'model.backbone.init_cfg.type=Pretrained',
                  'model.backbone.init_cfg.prefix=backbone.', f'model.backbone.init_cfg.checkpoint={source}']
    _train(workspace, work_dir, '--amp', '--cfg-options', f'load_from={source}', 'train_cfg.max_iters=1',
           'optim_wrapper.optimizer.lr=0.0', *pretrained, *NO_VAL)
    log = run_log(work_dir)
    assert f'load backbone. in model from: {source}' in log
    assert f'Load checkpoint from {source}' in log
    assert 'CPUAmpOptimWrapper' in log
    loaded, written = load_checkpoint(source)['state_dict'], load_checkpoint(osp.join(work_dir, 'iter_1.pth'))['state_dict']
    assert loaded.keys() == written.keys()
    for key in loaded:
        torch.testing.assert_close(written[key], loaded[key], rtol=0, atol=0, msg=key)


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


# ---------------------------------------------------------------------------------------------------
# In-process checks of the pieces (no training).


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


def test_import_patches_nothing():
    import mmengine.dist.utils
    from mmengine.runner import Runner

    import normdet  # noqa: F401
    assert torch.cuda.set_device.__module__ == 'torch.cuda'
    assert mmengine.dist.utils.init_dist.__module__ == 'mmengine.dist.utils'
    assert Runner.load_checkpoint.__module__ == 'mmengine.runner.runner'
    assert not any(getattr(g, '__name__', '') == 'HistoryBuffer' for g in torch.serialization.get_safe_globals())


class _ToyDetector(torch.nn.Module):

    def __init__(self):
        super().__init__()
        self.backbone = torch.nn.Linear(4, 4)
        self.head = torch.nn.Linear(4, 1)
        self.seen = {}
        self.head.register_forward_hook(lambda m, args, out: self.seen.update(head=out.dtype))
        self.backbone.register_forward_hook(lambda m, args, out: self.seen.update(backbone=out.dtype))

    def forward(self, x):
        features = self.backbone(x)
        self.seen['features'] = features.dtype
        return self.head(features).sum()


def test_cpu_amp_optim_wrapper_autocasts_backbone_only():
    from normdet.engine import CPUAmpOptimWrapper
    model = _ToyDetector()
    before = model.head.weight.detach().clone()
    wrapper = CPUAmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    with wrapper.optim_context(model):
        loss = model(torch.randn(3, 4))
    # inside the backbone's forward: bfloat16 (hook order: the recording hook runs before our cast)
    assert model.seen['backbone'] == torch.bfloat16
    assert model.seen['features'] == torch.float32 and model.seen['head'] == torch.float32
    assert not torch.is_autocast_enabled('cpu')
    wrapper.update_params(loss)
    assert model.head.weight.dtype == torch.float32 and not torch.equal(model.head.weight, before)
    # a CUDA AmpOptimWrapper state dict (with GradScaler state) loads
    state = wrapper.state_dict()
    state['loss_scaler'] = {'scale': 65536.0}
    wrapper.load_state_dict(state)


@pytest.mark.parametrize('launcher', ['slurm', 'mpi'])
def test_init_cpu_dist_from_scheduler_env(launcher, monkeypatch):
    """A one-process gloo group from Slurm's / Open MPI's variables, without CUDA calls."""
    import torch.distributed as dist

    from normdet.engine.dist import cpu_dist_backend, init_cpu_dist
    assert cpu_dist_backend('nccl') == 'gloo' and cpu_dist_backend('mpi') == 'mpi'
    for name in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK'):
        monkeypatch.setenv(name, '')  # records the original state, so the test's values are undone
        monkeypatch.delenv(name)
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
    port = free_port()
    if launcher == 'slurm':
        monkeypatch.setenv('MASTER_PORT', '1')  # the `port` argument (dist_cfg.port) takes precedence
        monkeypatch.setenv('SLURM_PROCID', '0')
        monkeypatch.setenv('SLURM_NTASKS', '1')
        monkeypatch.setenv('SLURM_LOCALID', '0')
        monkeypatch.setenv('SLURM_NODELIST', 'localhost')
        kwargs = dict(port=port)
    else:
        monkeypatch.setenv('MASTER_PORT', str(port))
        monkeypatch.setenv('OMPI_COMM_WORLD_SIZE', '1')
        monkeypatch.setenv('OMPI_COMM_WORLD_RANK', '0')
        monkeypatch.setenv('OMPI_COMM_WORLD_LOCAL_RANK', '0')
        kwargs = {}
    assert not dist.is_initialized()
    init_cpu_dist(launcher, backend='gloo', timeout=60, **kwargs)
    try:
        assert dist.get_backend() == 'gloo'
        assert (dist.get_rank(), dist.get_world_size()) == (0, 1)
        assert (os.environ['RANK'], os.environ['WORLD_SIZE'], os.environ['LOCAL_RANK']) == ('0', '1', '0')
        assert os.environ['MASTER_PORT'] == str(port)
    finally:
        dist.destroy_process_group()
