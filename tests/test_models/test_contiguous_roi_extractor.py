"""RoIAlign on feature maps in other layouts: mmcv's extractor path scrambles them, normdet's does not; and
every normdet layer as the last op before RoIAlign (as in the FPN) gives the RoI features of a contiguous
model."""
import pytest
import torch
from mmcv.cnn import build_norm_layer
from mmdet.registry import MODELS
from mmengine.registry import init_default_scope

import normdet  # noqa: F401
from normdet.layers import NORM_TYPES, small_norm_cfg

STRIDES = [4, 8]


def extractor(type_name):
    init_default_scope('mmdet')
    return MODELS.build(dict(type=type_name, roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=2),
                             out_channels=16, featmap_strides=STRIDES))


def inputs():
    gen = torch.Generator().manual_seed(0)
    feats = tuple(torch.randn(2, 16, 64 // s, 96 // s, generator=gen) for s in STRIDES)
    rois = torch.tensor([[0, 4., 6., 60., 40.], [1, 10., 2., 90., 60.], [1, 0., 0., 20., 20.]])
    return feats, rois


def layouts(feats):
    return {'channels_last': tuple(f.contiguous(memory_format=torch.channels_last) for f in feats),
            'permuted view': tuple(f.transpose(0, 1).contiguous().transpose(0, 1) for f in feats)}


def test_mmdet_extractor_scrambles_other_layouts_and_ours_does_not():
    feats, rois = inputs()
    reference = extractor('SingleRoIExtractor')(feats, rois)
    ours = extractor('ContiguousSingleRoIExtractor')
    assert torch.equal(ours(feats, rois), reference)  # contiguous maps: the very same computation
    for name, laid_out in layouts(feats).items():
        assert torch.equal(laid_out[0], feats[0]) and not laid_out[0].is_contiguous()
        # The hazard this guards against, measured (mmcv 2.1.0, CPU): equal values, different RoI features.
        assert (extractor('SingleRoIExtractor')(laid_out, rois) - reference).abs().max() > 0.1, name
        torch.testing.assert_close(ours(laid_out, rois), reference, rtol=0, atol=0)


@pytest.mark.parametrize('norm_type', NORM_TYPES)
@pytest.mark.parametrize('training', [True, False], ids=['train', 'eval'])
def test_each_norm_before_roialign_gives_the_contiguous_models_features(norm_type, training):
    """The FPN's last op is the norm: its output is what RoIAlign reads, through mmdet's own extractor."""
    feats, rois = inputs()

    def fresh_layer():  # a training forward changes running statistics (and SWBN's W): one layer per pass
        return build_norm_layer(small_norm_cfg(norm_type), 16)[1].train(training)

    mmdet_extractor = extractor('SingleRoIExtractor')
    reference_layer = fresh_layer()
    expected = mmdet_extractor(tuple(reference_layer(f.clone()) for f in feats), rois)
    layer = fresh_layer()
    torch.testing.assert_close(mmdet_extractor(tuple(layer(f) for f in feats), rois), expected, rtol=0, atol=0)
    # channels_last maps through a channels_last-safe extractor give the same features.
    laid_out = layouts(feats)['channels_last']
    layer = fresh_layer()
    normed = tuple(layer(f) for f in laid_out)
    assert all(n.is_contiguous(memory_format=torch.channels_last) for n in normed)
    torch.testing.assert_close(extractor('ContiguousSingleRoIExtractor')(normed, rois), expected,
                               rtol=1e-5, atol=1e-5)
