"""Multi-process training on machines without an accelerator (CPU, gloo backend).

mmengine 0.10.7 cannot start a distributed CPU run: its ``init_dist`` calls
``torch.cuda.set_device(local_rank)`` for every launcher before ``init_process_group`` (a CPU build of
torch raises there), mmdet's configs ask for the NCCL backend (``env_cfg.dist_cfg.backend='nccl'``), which
needs GPUs, and ``Runner.wrap_model`` gives DistributedDataParallel ``device_ids=[LOCAL_RANK]``, which DDP
refuses for a CPU module. :class:`~normdet.engine.runner.NormDetRunner` uses the helpers below instead of
mmengine's code only when :func:`runs_on_cpu` is true; with CUDA (or NPU/MLU/MUSA) mmengine's path runs
unchanged.
"""
import datetime
import os
import subprocess

import torch.distributed as torch_dist
from mmengine.device import get_device

# Backends that need an accelerator; gloo replaces them on CPU.
ACCELERATOR_BACKENDS = ('nccl', 'hccl', 'cncl', 'mccl')


def runs_on_cpu():
    """True when mmengine would put the model on the CPU (no CUDA/NPU/MLU/MUSA/MPS device visible,
    e.g. a CPU build of torch or ``CUDA_VISIBLE_DEVICES=''``)."""
    return get_device() == 'cpu'


def cpu_dist_backend(backend):
    """The backend to use on CPU for a requested one: accelerator-only backends (mmdet's default
    ``'nccl'``) become ``'gloo'``; ``'gloo'`` and ``'mpi'`` are kept."""
    return 'gloo' if backend in ACCELERATOR_BACKENDS else backend


def _set_slurm_env(port=None):
    """Fill the variables ``init_process_group(init_method='env://')`` reads from Slurm's, as
    mmengine's ``_init_dist_slurm`` does (master: first host of the job; port: ``port``, else
    ``MASTER_PORT``, else 29500)."""
    proc_id = int(os.environ['SLURM_PROCID'])
    if port is not None:
        os.environ['MASTER_PORT'] = str(port)
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        node_list = os.environ['SLURM_NODELIST']
        os.environ['MASTER_ADDR'] = subprocess.getoutput(f'scontrol show hostname {node_list} | head -n1')
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')
    os.environ['RANK'] = str(proc_id)


def _set_mpi_env():
    """Same for Open MPI's ``mpirun`` (``MASTER_ADDR`` must be set by the user, as in mmengine)."""
    if 'MASTER_ADDR' not in os.environ:
        raise KeyError('The environment variable MASTER_ADDR is not set')
    os.environ.setdefault('MASTER_PORT', '29500')
    os.environ['WORLD_SIZE'] = os.environ['OMPI_COMM_WORLD_SIZE']
    os.environ['RANK'] = os.environ['OMPI_COMM_WORLD_RANK']
    os.environ['LOCAL_RANK'] = os.environ['OMPI_COMM_WORLD_LOCAL_RANK']


def init_cpu_dist(launcher, backend='gloo', init_backend='torch', **kwargs):
    """Initialize the default process group for a CPU run, with the arguments of mmengine's
    ``init_dist`` (``env_cfg.dist_cfg``) but without touching CUDA.

    Args:
        launcher (str): ``'pytorch'`` (torchrun: RANK, WORLD_SIZE, MASTER_ADDR/PORT are already set),
            ``'slurm'`` or ``'mpi'``.
        backend (str): a CPU backend, ``'gloo'`` or ``'mpi'`` (see :func:`cpu_dist_backend`).
        init_backend (str): only ``'torch'``; DeepSpeed and ColossalAI need GPUs.
        **kwargs: passed to ``torch.distributed.init_process_group``; ``timeout`` is in seconds as in
            mmengine's configs, ``port`` (Slurm only) is the master port.

    The multiprocessing start method is left to the Runner (``env_cfg.mp_cfg``), as mmengine's Runner
    does in effect.
    """
    if backend in ACCELERATOR_BACKENDS:
        raise ValueError(f'backend {backend!r} needs GPUs; use cpu_dist_backend() to pick a CPU one')
    if init_backend != 'torch':
        raise ValueError(f'init_backend={init_backend!r} is not supported on CPU, only "torch"')
    if kwargs.get('timeout') is not None:
        kwargs['timeout'] = datetime.timedelta(seconds=kwargs['timeout'])
    port = kwargs.pop('port', None)
    if launcher == 'slurm':
        _set_slurm_env(port)
    elif launcher == 'mpi':
        _set_mpi_env()
    elif launcher != 'pytorch':
        raise ValueError(f'Invalid launcher type: {launcher}')
    torch_dist.init_process_group(backend=backend, **kwargs)
