"""normdet.layers.fuse: in evaluation BGN, SyncBGN, GNPlus and SWBN equal their folded forms (torch's
BatchNorm and GroupNorm, one grouped linear map) on every rank they take, and a detector gives the same
detections after fold_norms; the layers without a fixed form are left alone."""
import copy

import pytest
import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from normdet.layers import (BatchGroupNorm, GroupNormPlus, GroupWhitening, IterNorm, StochasticWhiteningBN,
                            SyncBatchGroupNorm, fold_norm, fold_norms)

DOUBLE = dict(dtype=torch.float64)
FOLDABLE = {
    'BGN': (lambda: BatchGroupNorm(8, num_groups=4), _BatchNorm),
    'SyncBGN': (lambda: SyncBatchGroupNorm(8, num_groups=2), _BatchNorm),
    'GNPlus': (lambda: GroupNormPlus(8, num_groups=4), nn.GroupNorm),
    'GNPlus-no-affine': (lambda: GroupNormPlus(8, num_groups=2, affine=False), nn.GroupNorm),
    'SWBN': (lambda: StochasticWhiteningBN(8, group_size=4, whitening_lr=0.2), nn.Module),
    'SWBN-no-affine': (lambda: StochasticWhiteningBN(8, group_size=8, whitening_lr=0.2, affine=False), nn.Module),
}


def trained(make):
    """The layer after a few training steps on mixed, shifted channels (non-trivial statistics and W) and
    with a random affine, in evaluation, float64."""
    torch.manual_seed(0)
    layer = make().double()
    mixing = torch.eye(8, **DOUBLE) + 0.5 * torch.randn(8, 8, **DOUBLE)
    for _ in range(5):
        layer((torch.randn(6, 5, 5, 8, **DOUBLE) @ mixing.T + torch.arange(8, **DOUBLE)).permute(0, 3, 1, 2))
    with torch.no_grad():
        if layer.affine:
            layer.weight.normal_()
            layer.bias.normal_()
        if isinstance(layer, GroupNormPlus):
            layer.mix_logit.fill_(0.3)
    return layer.eval()


@pytest.mark.parametrize('name', FOLDABLE)
def test_folded_layer_equals_the_layer_in_evaluation(name):
    make, folded_type = FOLDABLE[name]
    layer = trained(make)
    folded = fold_norm(layer)
    assert isinstance(folded, folded_type) and not isinstance(folded, type(layer))
    for shape in [(3, 8), (3, 8, 7), (3, 8, 5, 6), (2, 8, 3, 4, 5)]:
        x = torch.randn(*shape, **DOUBLE) * 3 + 1
        expected, got = layer(x), folded(x)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)
    x32 = torch.randn(3, 8, 5, 6)
    torch.testing.assert_close(fold_norm(trained(make).float())(x32), trained(make).float()(x32),
                               rtol=1e-5, atol=1e-5)


def test_layers_without_a_fixed_form_are_not_folded():
    layers = [GroupWhitening(8, num_groups=4), IterNorm(8, group_size=4), GroupNormPlus(8, 4, batch_stats='position'),
              GroupNormPlus(8, 4, denominator='std'), BatchGroupNorm(8, 4, track_running_stats=False),
              nn.BatchNorm2d(8)]
    assert all(fold_norm(layer.eval()) is None for layer in layers)
    assert fold_norm(BatchGroupNorm(8, 4).train()) is None  # batch statistics in training


def test_fold_norms_gives_a_detector_the_same_detections():
    from test_models.test_mmdet_integration import batch, build_detector

    for cfg in (dict(type='SWBN', num_channels=8, whitening_lr=1e-3), dict(type='BGN', num_groups=8),
                dict(type='GNPlus', num_groups=8)):
        model = build_detector(copy.deepcopy(cfg))
        model.train()
        for seed in range(3):  # running statistics (and SWBN's W) away from their initial values
            with torch.no_grad():
                model(**model.data_preprocessor(batch(seed=seed), True), mode='loss')
        model.eval()
        data = model.data_preprocessor(batch(seed=5), False)
        with torch.no_grad():
            expected = model(**data, mode='predict')
            folded = fold_norms(copy.deepcopy(model))
            got = folded(**data, mode='predict')
        remaining = [type(m).__name__ for m in folded.modules() if type(m).__name__ in ('BatchGroupNorm',
                                                                                         'GroupNormPlus',
                                                                                         'StochasticWhiteningBN')]
        assert not remaining, (cfg, remaining)
        for a, b in zip(expected, got):
            assert len(a.pred_instances) == len(b.pred_instances) > 0, cfg
            torch.testing.assert_close(b.pred_instances.bboxes, a.pred_instances.bboxes, rtol=1e-4, atol=1e-3)
            torch.testing.assert_close(b.pred_instances.scores, a.pred_instances.scores, rtol=1e-4, atol=1e-5)
            assert torch.equal(b.pred_instances.labels, a.pred_instances.labels)
