"""Random state in checkpoints, so that a resumed run continues as if it had not been interrupted.

mmengine's checkpoints hold the model, optimizer, schedulers and message hub, but not the random number
generators: after ``--resume`` mmengine reseeds from the config seed, so proposal sampling and data
augmentation draw numbers the uninterrupted run never drew, and the losses part ways at the first
iteration. :class:`~normdet.engine.runner.NormDetRunner` saves every process's generator states
(:func:`rng_state`) with each checkpoint and, on resume, restores them where the interrupted run stood
when it saved: just before the data of the first iteration it had not run (:class:`RestoreRNGStateHook`).
"""
import random

import numpy as np
import torch
from mmengine.hooks import Hook


def rng_state():
    """The states of Python's, numpy's and torch's global generators (and CUDA's, once initialised)."""
    state = dict(python=random.getstate(), numpy=np.random.get_state(), torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state):
    """Restore what :func:`rng_state` returned."""
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


class _RestoreBeforeFetch:
    """Iterator wrapper that calls :func:`set_rng_state` just before fetching item ``skip`` (0-based)."""

    def __init__(self, iterator, skip, state):
        self._iterator = iterator
        self._skip = skip
        self._state = state

    def __iter__(self):
        return self

    def __next__(self):
        if self._state is not None:
            if self._skip == 0:
                set_rng_state(self._state)
                self._state = None
            else:
                self._skip -= 1
        return next(self._iterator)


class RestoreRNGStateHook(Hook):
    """Restore the generator states a checkpoint was saved with at the point the saving run had reached.

    The checkpoint is written after an iteration (or epoch); what comes next is fetching the next batch.
    An iteration-based loop that resumes first fetches and discards the batches already trained on, which
    draws random numbers in the data pipeline, so the state is restored after that, just before the
    first new batch; an epoch-based loop starts its next epoch, so the state is restored before it.

    Args:
        state (dict): this process's states, from :func:`rng_state`.
    """

    priority = 'VERY_HIGH'

    def __init__(self, state):
        self.state = state

    def before_train(self, runner):
        loop = runner.train_loop
        if hasattr(loop, 'dataloader_iterator'):  # IterBasedTrainLoop and loops built like it
            loop.dataloader_iterator = _RestoreBeforeFetch(loop.dataloader_iterator, loop.iter, self.state)
            self.state = None

    def before_train_epoch(self, runner):
        if self.state is not None:
            set_rng_state(self.state)
            self.state = None
