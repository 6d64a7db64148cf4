"""EpochSeededInfiniteSampler: the batches, and the random numbers around them, of DefaultSampler restarted
at every epoch end by mmengine's IterBasedTrainLoop, without the restart."""
import itertools

import pytest
import torch
from mmdet.datasets.samplers import AspectRatioBatchSampler
from mmengine.dataset import DefaultSampler, pseudo_collate
from mmengine.runner import loops
from torch.utils.data import DataLoader

from normdet.datasets import EpochSeededInfiniteSampler

DEMO_ITERS = 400  # the demo schedule (configs/_base_/schedules/cpu_demo.py)


class SquareImages:
    """``num_images`` images of 256 x 256 px: what AspectRatioBatchSampler reads of the shapes train set."""

    def __init__(self, num_images):
        self.num_images = num_images

    def __len__(self):
        return self.num_images

    def __getitem__(self, index):
        return index

    def get_data_info(self, index):
        return dict(width=256, height=256)


def demo_batches(sampler_cls, num_images, monkeypatch, iters=DEMO_ITERS):
    """Image indices of the first ``iters`` batches as IterBasedTrainLoop fetches them (its
    _InfiniteDataloaderIterator over the demo's dataloader: batches of 2, AspectRatioBatchSampler, seed 0,
    no workers), each with a number drawn from torch's default generator after it, as the detector's RoI
    sampling does; and the warnings of that iterator."""
    warnings = []
    monkeypatch.setattr(loops, 'print_log', lambda msg, *args, **kwargs: warnings.append(msg))
    monkeypatch.setattr(loops.time, 'sleep', lambda seconds: None)  # the restart's pause
    torch.manual_seed(0)
    dataset = SquareImages(num_images)
    loader = DataLoader(dataset, batch_sampler=AspectRatioBatchSampler(sampler_cls(dataset, seed=0), batch_size=2),
                        collate_fn=pseudo_collate, num_workers=0)
    iterator = loops._InfiniteDataloaderIterator(loader)
    batches = []
    for _ in range(iters):
        batches.append((next(iterator), torch.randint(2**62, ()).item()))
    return batches, warnings


@pytest.mark.parametrize('num_images', [400, 7])
def test_demo_batches_and_random_numbers_are_those_of_restarted_default_sampler(num_images, monkeypatch):
    """400: the demo's train set (every image has objects, so filter_empty_gt keeps all); 7: many epochs."""
    expected, restarts = demo_batches(DefaultSampler, num_images, monkeypatch)
    got, warnings = demo_batches(EpochSeededInfiniteSampler, num_images, monkeypatch)
    if num_images % 2:
        # An odd epoch ends on a short batch with DefaultSampler; here the stream runs on instead.
        assert [len(batch) for batch, _ in expected[:4]] == [2, 2, 2, 1]
        assert [len(batch) for batch, _ in got[:4]] == [2, 2, 2, 2]
        assert [i for batch, _ in got[:7] for i in batch][:14] == [i for batch, _ in expected[:8] for i in batch]
        return
    assert got == expected
    assert len(restarts) == DEMO_ITERS // (num_images // 2) - 1 + (DEMO_ITERS % (num_images // 2) > 0)
    assert all('Reach the end of the dataloader' in message for message in restarts)
    assert warnings == []


@pytest.mark.parametrize('world_size', [1, 2, 3])
@pytest.mark.parametrize('shuffle', [True, False])
def test_epochs_are_default_sampler_epochs_per_rank(world_size, shuffle, monkeypatch):
    import mmengine.dataset.sampler as sampler_module
    dataset = list(range(10))
    for rank in range(world_size):
        monkeypatch.setattr(sampler_module, 'get_dist_info', lambda: (rank, world_size))
        reference = DefaultSampler(dataset, shuffle=shuffle, seed=5)
        expected = []
        for epoch in range(4):
            reference.set_epoch(epoch)
            expected += list(reference)
        sampler = EpochSeededInfiniteSampler(dataset, shuffle=shuffle, seed=5)
        assert len(sampler) == len(reference)
        assert list(itertools.islice(sampler, len(expected))) == expected
        assert sampler.epoch == 0  # the epoch a new iterator starts from is left alone

        sampler.set_epoch(2)  # starts where set_epoch says, as DefaultSampler does
        assert list(itertools.islice(sampler, len(expected) // 2)) == expected[len(expected) // 2:]
