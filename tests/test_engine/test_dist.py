"""normdet.engine.dist: a CPU (gloo) process group from the launchers' environment variables, without
CUDA calls. Multi-process launches through tools/dist_train.sh are in tests/test_tools/test_dist_train.py."""
import os

import pytest

from tool_runs import free_port


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
