"""Checkpoints: loading mmengine's with torch >= 2.6 while keeping ``torch.load(weights_only=True)``,
writing them so that an interrupted write loses nothing, and finding the one to resume from.

mmengine 0.10.7 calls ``torch.load(filename, map_location=...)`` without ``weights_only``; since torch 2.6
that means ``weights_only=True``, whose unpickler rejects every global that is not allow-listed. Besides
tensors and builtin containers, the checkpoints mmengine writes (``CheckpointHook``, ``Runner.save_checkpoint``)
hold:

* ``message_hub.log_scalars``: :class:`mmengine.logging.HistoryBuffer` objects, whose state holds numpy
  arrays (``numpy.ndarray`` rebuilt by ``numpy._core.multiarray._reconstruct`` from a ``numpy.dtype``) and
  the statistics methods as ``getattr(HistoryBuffer, 'mean')`` etc. (``builtins.getattr``);
* numpy scalars (``numpy._core.multiarray.scalar``) wherever a hook or metric logged one (runtime info,
  ``meta``).

:func:`mmengine_checkpoint_globals` allow-lists exactly these for the duration of a load. Importing normdet
(as every normdet config does through ``custom_imports``) also makes mmengine's loader of local files
(``mmengine.runner.load_checkpoint``, hence mmdet's ``tools/analysis_tools/benchmark.py``,
``mmdet.apis.init_detector`` and ``DetInferencer``) load inside that context
(:func:`register_local_checkpoint_loader`); the allow-list is still in force only during each load. numpy 1 pickles
its functions under ``numpy.core.multiarray``, numpy 2 under ``numpy._core.multiarray``: both names are
accepted, so checkpoints load whichever numpy wrote them. ``builtins.getattr`` itself would let a file
read any attribute of any allow-listed object, so that name is bound to :func:`_history_buffer_method`,
which resolves only HistoryBuffer's statistics methods and refuses everything else.
"""
import glob
import os
import os.path as osp
import pickle
import types
from contextlib import contextmanager, nullcontext

import numpy as np
import torch
from mmengine.logging import HistoryBuffer


def _history_buffer_method(owner, name):
    """Stand-in for ``builtins.getattr`` while unpickling: HistoryBuffer pickles its statistics
    methods (``min``, ``max``, ``current``, ``mean``) as ``getattr(HistoryBuffer, name)``. Only public
    functions defined in HistoryBuffer's class body are resolved (the unpickler never calls them)."""
    method = vars(HistoryBuffer).get(name) if owner is HistoryBuffer else None
    if isinstance(method, types.FunctionType) and not name.startswith('_'):
        return method
    raise pickle.UnpicklingError(f'getattr({owner!r}, {name!r}) is not allowed in a checkpoint')


def _numpy_dtype_classes():
    """numpy >= 1.25 makes every dtype an instance of a class in ``numpy.dtypes`` (e.g. Float64DType),
    and the unpickler checks that class when it restores the dtype's state."""
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is None:
        return []
    return [cls for cls in vars(dtypes).values() if isinstance(cls, type) and issubclass(cls, np.dtype)]


def checkpoint_safe_globals():
    """The globals mmengine checkpoints contain beyond torch's defaults, in the form
    ``torch.serialization.safe_globals`` takes (object or (object, pickled name))."""
    reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]
    scalar = np.float64(0).__reduce__()[0]
    names = [(fn, f'{module}.multiarray.{fn.__name__}')
             for fn in (reconstruct, scalar) for module in ('numpy.core', 'numpy._core')]
    return [HistoryBuffer, np.ndarray, np.dtype, *_numpy_dtype_classes(), *names,
            (_history_buffer_method, 'builtins.getattr')]


@contextmanager
def mmengine_checkpoint_globals():
    """Context in which ``torch.load`` (``weights_only=True``, the default since torch 2.6) accepts
    checkpoints written by mmengine. Does nothing with torch < 2.5, which has no allow-list context
    (and loads with ``weights_only=False`` by default before 2.6)."""
    safe_globals = getattr(torch.serialization, 'safe_globals', None)
    with safe_globals(checkpoint_safe_globals()) if safe_globals else nullcontext():
        yield


def register_local_checkpoint_loader():
    """Register, in place of mmengine's loader of local checkpoint files (``CheckpointLoader``'s scheme
    ``''``, which ``mmengine.runner.load_checkpoint`` and ``_load_checkpoint`` use for every path without
    a URL prefix), the same loader called inside :func:`mmengine_checkpoint_globals`. Idempotent; done
    when normdet is imported."""
    from mmengine.runner import checkpoint

    if getattr(checkpoint.CheckpointLoader._schemes.get(''), 'loads_mmengine_checkpoints', False):
        return

    # Named as mmengine's: its log line names the loader by the function's name ("by local backend").
    def load_from_local(filename, map_location):
        with mmengine_checkpoint_globals():
            return checkpoint.load_from_local(filename, map_location)

    load_from_local.loads_mmengine_checkpoints = True
    checkpoint.CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)


register_local_checkpoint_loader()


def write_atomically(write, path):
    """Call ``write(temp_path)``, then move the file it wrote to ``path`` in one step (``os.replace``), so
    that ``path`` is never a partly written file: a process killed, or a disk that fills, while writing
    leaves the previous file at ``path`` (if any) and no temporary file behind (unless killed)."""
    directory, name = osp.split(path)
    temp_path = osp.join(directory, f'.{name}.tmp')
    try:
        write(temp_path)
        fd = os.open(temp_path, os.O_RDONLY)
        try:
            os.fsync(fd)  # the data must be on disk before the rename that publishes it
        finally:
            os.close(fd)
        os.replace(temp_path, path)
    except BaseException:
        if osp.exists(temp_path):
            os.remove(temp_path)
        raise
    if os.name == 'posix':  # the rename itself survives a power loss once the directory is synced
        fd = os.open(directory or '.', os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def find_resumable_checkpoint(work_dir):
    """The checkpoint ``--resume`` (without a path) continues from: the one mmengine's ``last_checkpoint``
    file names, or, when that file is missing, empty or names a missing file (what a run killed while
    writing it leaves), the newest ``*.pth`` in ``work_dir``; ``None`` when there is none."""
    record = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(record):
        with open(record) as f:
            recorded = f.read().strip()
        if recorded and osp.isfile(recorded):
            return recorded
    candidates = glob.glob(osp.join(work_dir, '*.pth'))
    return max(candidates, key=osp.getmtime) if candidates else None
