"""normdet.engine.checks: configuration errors stop a run before it starts and say where and what, in
process (the checks on config dicts and built modules) and as a user meets them (tools/train.py with
--cfg-options, marked slow).

The traversal of norm configs the checks use is tested in tests/test_utils/test_norm_cfgs.py.
"""
import os
import os.path as osp
import re

import pytest

from tool_runs import NO_VAL, make_tiny_data, run_tool, tool_env, train_cmd


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    """Working directory holding data/shapes_tiny (the tiny config's data_root is relative)."""
    return make_tiny_data(tmp_path_factory.mktemp('checks'))


def test_unknown_norm_types_are_all_listed_with_the_registered_ones():
    from mmengine.registry import DefaultScope

    from normdet.engine.checks import check_norm_types
    from normdet.layers.base import NormConfigError
    cfg = dict(backbone=dict(norm_cfg=dict(type='gw')), neck=dict(norm_cfg=dict(type='SyncBNN')),
               rpn_head=dict(norm_cfg=dict(type='FrozenBN')))
    with DefaultScope.overwrite_default_scope('mmdet'):  # FrozenBN lives in mmdet's registry
        with pytest.raises(NormConfigError) as error:
            check_norm_types(cfg)
    message = str(error.value)
    assert "model.backbone.norm_cfg: unknown norm type 'gw'; did you mean 'GW'?" in message
    assert "model.neck.norm_cfg: unknown norm type 'SyncBNN'; did you mean 'SyncBN'?" in message
    assert 'rpn_head' not in message
    assert 'normdet norm types: GW, BGN, SyncBGN, GNPlus, ItN, SWBN' in message
    assert re.search(r'other registered norm types: .*\bBN\b.*\bGN\b', message)


def _detector_with(norm_cfgs):
    """A module tree shaped like a detector: {path: norm cfg} built with mmcv's build_norm_layer; its
    ``roi_head`` is an mmdet RoI head (with no heads of its own), as the checks tell RoI heads by type."""
    import torch.nn as nn
    from mmcv.cnn import build_norm_layer
    from mmdet.models.roi_heads import StandardRoIHead

    model = nn.Module()
    for path, (norm_cfg, channels) in norm_cfgs.items():
        parent = model
        *parents, leaf = path.split('.')
        for name in parents:
            if not hasattr(parent, name):
                parent.add_module(name, StandardRoIHead() if name == 'roi_head' else nn.Module())
            parent = getattr(parent, name)
        parent.add_module(leaf, build_norm_layer(norm_cfg, channels)[1])
    return model


def test_built_layers_report_every_problem_by_module_path():
    from normdet.engine.checks import check_built_norms
    from normdet.layers.base import NormConfigError, collect_config_problems
    with collect_config_problems() as problems:
        model = _detector_with({
            'backbone.layer1.0.bn2': (dict(type='GW', num_groups=64), 96),
            'backbone.layer2.0.bn2': (dict(type='GW', num_groups=64), 128),
            'neck.norm': (dict(type='BGN', num_groups=32), 48),
        })
    with pytest.raises(NormConfigError) as error:
        check_built_norms(model, problems)
    message = str(error.value)
    assert ('model.backbone.layer1.0.bn2 (GroupWhitening, 96 channels): num_groups=64 does not divide its 96 '
            'channels (valid: 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 96)') in message
    assert 'model.neck.norm (BatchGroupNorm, 48 channels): num_groups=32 does not divide' in message
    assert 'layer2' not in message


def test_gnplus_position_needs_two_images_outside_the_roi_heads():
    from normdet.engine.checks import check_built_norms
    from normdet.layers.base import NormConfigError
    position = dict(type='GNPlus', num_groups=8, batch_stats='position')
    model = _detector_with({'backbone.gn': (position, 16), 'roi_head.mask_head.gn': (position, 16)})
    check_built_norms(model, dataloader_batch_sizes={'train_dataloader': 2, 'test_dataloader': 2})
    with pytest.raises(NormConfigError) as error:
        check_built_norms(model, dataloader_batch_sizes={'train_dataloader': 2, 'test_dataloader': 1})
    message = str(error.value)
    assert "model.backbone.gn (GNPlus): batch_stats='position'" in message
    assert 'test_dataloader.batch_size=1' in message and 'train_dataloader' not in message
    assert 'roi_head' not in message


def test_sync_bgn_needs_a_process_group_when_launched_in_several_processes():
    from normdet.engine.checks import check_built_norms
    from normdet.layers.base import NormConfigError
    model = _detector_with({'backbone.bn': (dict(type='SyncBGN', num_groups=8), 16)})
    check_built_norms(model, world_size=1, distributed=False)
    check_built_norms(model, world_size=2, distributed=True)
    with pytest.raises(NormConfigError, match=r'model\.backbone\.bn \(SyncBGN\): this process is one of 2'):
        check_built_norms(model, world_size=2, distributed=False)


# One tools/train.py run per error, as a user meets it: --cfg-options on the tiny config.
CONFIG_ERRORS = {
    'unknown-type': (['model.backbone.norm_cfg.type=GWW'], {}, [
        r"model\.backbone\.norm_cfg: unknown norm type 'GWW'; did you mean 'GW'\?",
        r'normdet norm types: GW, BGN, SyncBGN, GNPlus, ItN, SWBN']),
    'group-count': (['model.backbone.norm_cfg.type=BGN', 'model.backbone.norm_cfg.num_groups=12'], {}, [
        r'model\.backbone\.bgn1 \(BatchGroupNorm, 16 channels\): num_groups=12 does not divide its 16 channels '
        r'\(valid: 1, 2, 4, 8, 16\)']),
    'syncbgn-without-process-group': (['model.backbone.norm_cfg.type=SyncBGN'], dict(WORLD_SIZE='2', RANK='0'), [
        r'model\.backbone\.bgn1 \(SyncBGN\): this process is one of 2 \(WORLD_SIZE\) but has no process group '
        r"\(launcher='none'\).*valid: --launcher pytorch"]),
    'gnplus-position-at-batch-1': ([
        'model.backbone.norm_cfg.type=GNPlus', 'model.backbone.norm_cfg.batch_stats=position',
        'train_dataloader.batch_size=1', *NO_VAL
    ], {}, [r"model\.backbone\.gnp1 \(GNPlus\): batch_stats='position' takes its statistics over the images of a "
            r"batch, but train_dataloader\.batch_size=1.*\(valid: batch_stats='channel', or batch_size >= 2\)"]),
}


@pytest.mark.slow
@pytest.mark.parametrize('case', list(CONFIG_ERRORS))
def test_train_py_stops_on_config_error_before_training(case, workspace):
    options, env, patterns = CONFIG_ERRORS[case]
    work_dir = osp.join(workspace, f'config-error-{case}')
    proc = run_tool(train_cmd(work_dir, '--cfg-options', *options), workspace, check=False, env=tool_env(**env))
    assert proc.returncode != 0
    assert 'NormConfigError' in proc.stdout
    for pattern in patterns:
        assert re.search(pattern, proc.stdout), f'{pattern!r} not in:\n{proc.stdout[-3000:]}'
    assert 'Iter(train)' not in proc.stdout
    assert not [name for _, _, names in os.walk(work_dir) for name in names if name.endswith('.pth')]

