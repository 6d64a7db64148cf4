"""What tools/train.py and tools/test.py do with their flags, for detection (mmdet's tools) and
classification (mmpretrain's) configs alike; the subprocess runs are in tests/test_tools/ and
tests/test_models/test_pretrained_bridge.py."""
import argparse

import pytest
from mmengine.registry import DefaultScope

import normdet  # noqa: F401
from config_files import load_config
from normdet.engine.entrypoints import apply_show_args, apply_tta, dump_results_metric, is_classification

CLASSIFIER = 'pretrain/resnet50_gw-paper_8xb32_in1k.py'
DETECTOR = 'demo/mask-rcnn_r18-w32_fpn_gn_400it_shapes.py'


def show_args(config, show=False, show_dir='painted', tta=False):
    return argparse.Namespace(config=config, show=show, show_dir=show_dir, wait_time=0.5, tta=tta)


def test_the_scope_says_which_task():
    assert is_classification(load_config(CLASSIFIER)) and not is_classification(load_config(DETECTOR))


def test_tta_of_a_classification_config_is_mmpretrains_flip_average():
    cfg = load_config(CLASSIFIER)
    with pytest.warns(UserWarning, match='tta_model'):
        cfg = apply_tta(cfg)
    assert cfg.model.type == 'mmpretrain.AverageClsScoreTTA' and cfg.model.module.type == 'ImageClassifier'
    last = cfg.test_dataloader.dataset.pipeline[-1]
    assert last.type == 'TestTimeAug'
    assert last.transforms == [[dict(type='RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)],
                               [dict(type='PackInputs')]]
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        assert type(MODELS.build(cfg.model)).__name__ == 'AverageClsScoreTTA'


def test_tta_of_a_detection_config_is_mmdets():
    with pytest.warns(UserWarning, match='tta_model'):
        cfg = apply_tta(load_config(DETECTOR))
    assert cfg.model.type == 'DetTTAModel' and cfg.model.tta_cfg.nms.iou_threshold == 0.5
    assert cfg.test_dataloader.dataset.pipeline[-1].transforms[-1][0].type == 'PackDetInputs'


def test_show_dir_enables_the_visualization_hook_of_either_task():
    cfg = apply_show_args(load_config(CLASSIFIER), show_args(CLASSIFIER))
    hook = cfg.default_hooks.visualization
    assert (hook.type, hook.enable, hook.out_dir, hook.interval, hook.show) == (
        'VisualizationHook', True, 'painted', 1, False)
    cfg = apply_show_args(load_config(DETECTOR), show_args(DETECTOR))
    assert cfg.default_hooks.visualization.draw is True and cfg.default_hooks.visualization.test_out_dir == 'painted'


def test_show_without_a_visualization_hook_names_what_to_add():
    cfg = load_config(CLASSIFIER)
    del cfg.default_hooks['visualization']
    with pytest.raises(ValueError, match=r"--show/--show-dir need a VisualizationHook.*resnet50_gw-paper"):
        apply_show_args(cfg, show_args(CLASSIFIER))


def test_classification_tta_with_show_is_refused_before_anything_runs():
    with pytest.raises(ValueError, match=r'--tta with --show/--show-dir is not supported.*resnet50_gw-paper'):
        apply_show_args(load_config(CLASSIFIER), show_args(CLASSIFIER, tta=True))


def test_out_dumps_with_each_tasks_metric(tmp_path):
    assert type(dump_results_metric(load_config(CLASSIFIER), str(tmp_path / 'a.pkl'))).__name__ == 'DumpResults'
    assert type(dump_results_metric(load_config(DETECTOR), str(tmp_path / 'b.pkl'))).__name__ == 'DumpDetResults'
