"""tools/analysis_tools/benchmark_folding.py on the tiny Mask R-CNN with SWBN in backbone and neck: every
normdet layer folded, the timings and the feature-map difference reported."""
from tool_runs import CONFIG, load_script

SWBN = dict(_delete_=True, type='SWBN', num_channels=8, whitening_lr=1e-3)  # in place of the config's GN


def test_folds_every_layer_and_keeps_the_feature_maps():
    tool = load_script('tools/analysis_tools/benchmark_folding.py')
    result = tool.measure(CONFIG, shape=(64, 96), repeats=1,
                          cfg_options={'model.backbone.norm_cfg': SWBN, 'model.neck.norm_cfg': SWBN})
    assert result['folded'] == result['layers'] > 20, result
    assert result['difference'] < 1e-4 and all(t > 0 for t in result['seconds'].values()), result
