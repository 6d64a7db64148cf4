"""A hook that makes one process of a distributed test run fail (tests/test_tools/test_dist_train.py), imported
through ``custom_imports`` with tests/data on PYTHONPATH."""
import os
import signal

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class FailRankHook(Hook):
    """Before iteration ``at_iter`` (1-based), process ``rank`` kills itself with SIGKILL (``how='sigkill'``)
    or raises RuntimeError (``how='raise'``)."""

    def __init__(self, rank=1, at_iter=3, how='sigkill'):
        self.rank, self.at_iter, self.how = rank, at_iter, how

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if get_rank() != self.rank or runner.iter + 1 != self.at_iter:
            return
        if self.how == 'sigkill':
            os.kill(os.getpid(), signal.SIGKILL)
        raise RuntimeError(f'injected failure on rank {self.rank} at iteration {self.at_iter}')
