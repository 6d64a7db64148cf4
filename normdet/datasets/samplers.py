"""Samplers for iteration-based training."""
import itertools
from typing import Iterator

import torch
from mmdet.registry import DATA_SAMPLERS
from mmengine.dataset import DefaultSampler


@DATA_SAMPLERS.register_module()
class EpochSeededInfiniteSampler(DefaultSampler):
    """``DefaultSampler``'s epochs one after the other, without end, for ``IterBasedTrainLoop``.

    With ``DefaultSampler`` an iteration-based loop runs out of data at every epoch end, and mmengine
    restarts the dataloader (warning "Reach the end of the dataloader", then sleeping 2 s) after
    ``set_epoch(epoch + 1)``. mmengine's ``InfiniteSampler`` avoids the restart but draws a different order
    from the second epoch on (one generator seeded once, where ``DefaultSampler`` reseeds every epoch).
    This sampler yields, epoch after epoch, exactly what the restarted ``DefaultSampler`` yields: for epoch
    ``e`` the permutation seeded with ``seed + e``, rounded up and split over the ranks as
    ``DefaultSampler`` does (same arguments: ``shuffle``, ``seed``, ``round_up``).

    It also keeps the rest of the run on the same random numbers: building a new DataLoader iterator, as
    each restart does, draws one number from torch's default generator (the base seed of its workers), and
    RoI sampling in the detector's heads draws from that generator too. So at the start of every epoch but
    the first this sampler draws that one number in the restart's place. A run with ``num_workers=0``
    (the CPU demo) then computes the losses of the restarting run, number for number, as long as every
    epoch fills whole batches (e.g. 400 images in batches of 2): a batch sampler sees one endless stream,
    so the short batch it would yield at an epoch end would instead be completed with the next epoch's
    first samples.

    ``len()`` is ``DefaultSampler``'s, the samples of one epoch of this rank.

    Example::

        >>> sampler = EpochSeededInfiniteSampler(list(range(4)), seed=0)
        >>> first_two_epochs = list(itertools.islice(sampler, 8))
        >>> reference = DefaultSampler(list(range(4)), seed=0)
        >>> epoch0 = list(reference); reference.set_epoch(1)
        >>> first_two_epochs == epoch0 + list(reference)
        True
    """

    def __iter__(self) -> Iterator[int]:
        first_epoch = self.epoch
        for epoch in itertools.count(first_epoch):
            if epoch > first_epoch:
                # What DataLoader.__iter__ draws for its workers' base seed on a restart.
                torch.empty((), dtype=torch.int64).random_()
            self.epoch = epoch
            indices = super().__iter__()  # DefaultSampler's order of this epoch, computed now
            self.epoch = first_epoch
            yield from indices
