"""tools/train.py and tools/test.py end to end on CPU: training writes a checkpoint and validates,
test.py loads it, --resume continues, load_from / a Pretrained init_cfg load weights, --amp runs.

The tools run as subprocesses (marked slow) on a tiny Mask R-CNN (tests/data/configs/) trained for 2
iterations on 4 generated 128 px images; every subprocess pays ~5-10 s of imports.
"""
import os.path as osp
import shutil
import sys

import pytest
import torch

from tool_runs import (CONFIG, NO_VAL, REPO, dataset_classes, load_checkpoint, make_tiny_data, run_log, run_tool,
                       train_cmd)


def _train(cwd, work_dir, *args):
    return run_tool(train_cmd(work_dir, *args), cwd).stdout


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    """Working directory holding data/shapes_tiny (the config's data_root is relative)."""
    return make_tiny_data(tmp_path_factory.mktemp('tools'))


@pytest.fixture(scope='module')
def trained(workspace):
    """tools/train.py: 2 iterations, then validation; returns the work dir."""
    work_dir = osp.join(workspace, 'train')
    _train(workspace, work_dir)
    return work_dir


def test_tiny_config_classes_match_shapes():
    from mmengine.config import Config

    from normdet.datasets import SHAPES_CLASSES
    cfg = Config.fromfile(CONFIG)
    assert dataset_classes(cfg.train_dataloader.dataset) == SHAPES_CLASSES
    assert cfg.model.roi_head.bbox_head.num_classes == len(SHAPES_CLASSES)


@pytest.mark.slow
def test_train_writes_checkpoint_and_validates(trained):
    ckpt = osp.join(trained, 'iter_2.pth')
    assert osp.isfile(ckpt)
    assert load_checkpoint(ckpt)['meta']['iter'] == 2
    log = run_log(trained)
    assert 'coco/bbox_mAP' in log and 'coco/segm_mAP' in log


@pytest.mark.slow
def test_checkpoint_needs_more_than_torch_default_globals(trained):
    # What makes test.py/--resume/load_from fail with mmengine's plain torch.load on torch >= 2.6.
    unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(osp.join(trained, 'iter_2.pth'))
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in unsafe


@pytest.mark.slow
def test_test_py_loads_checkpoint(trained, workspace):
    work_dir = osp.join(workspace, 'test')
    out = osp.join(work_dir, 'results.pkl')
    run_tool([sys.executable, osp.join(REPO, 'tools', 'test.py'), CONFIG, osp.join(trained, 'iter_2.pth'),
          '--work-dir', work_dir, '--out', out], workspace)
    log = run_log(work_dir)
    assert 'Load checkpoint from' in log and 'coco/segm_mAP' in log
    import pickle
    with open(out, 'rb') as f:
        assert len(pickle.load(f)) == 2  # one prediction per val image


@pytest.mark.slow
def test_resume_continues_from_latest_checkpoint(trained, workspace):
    work_dir = osp.join(workspace, 'resume')
    shutil.copytree(trained, work_dir)
    _train(workspace, work_dir, '--resume', '--cfg-options', 'train_cfg.max_iters=3', *NO_VAL)
    assert 'resumed epoch: 0, iter: 2' in run_log(work_dir)
    resumed = load_checkpoint(osp.join(work_dir, 'iter_3.pth'))
    assert resumed['meta']['iter'] == 3
    # the optimizer state came along: SGD momentum buffers exist for the resumed parameters
    assert resumed['optimizer']['state']


@pytest.mark.slow
def test_load_from_pretrained_init_and_amp_on_cpu(trained, workspace):
    """One run for three things (each run costs ~10 s): ``load_from``, a backbone ``init_cfg`` of type
    Pretrained pointing at an mmengine checkpoint, and ``--amp`` on CPU.

    lr=0 leaves the weights as loaded, so the checkpoint written after 1 iteration must hold exactly the
    weights of the one given to load_from (a fresh initialization would differ)."""
    work_dir = osp.join(workspace, 'load_from')
    source = osp.join(trained, 'iter_2.pth')
    pretrained = ['model.backbone.init_cfg._delete_=True', 'model.backbone.init_cfg.type=Pretrained',
                  'model.backbone.init_cfg.prefix=backbone.', f'model.backbone.init_cfg.checkpoint={source}']
    _train(workspace, work_dir, '--amp', '--cfg-options', f'load_from={source}', 'train_cfg.max_iters=1',
           'optim_wrapper.optimizer.lr=0.0', *pretrained, *NO_VAL)
    log = run_log(work_dir)
    assert f'load backbone. in model from: {source}' in log
    assert f'Load checkpoint from {source}' in log
    assert 'CPUAmpOptimWrapper' in log
    loaded, written = load_checkpoint(source)['state_dict'], load_checkpoint(osp.join(work_dir, 'iter_1.pth'))['state_dict']
    assert loaded.keys() == written.keys()
    for key in loaded:
        torch.testing.assert_close(written[key], loaded[key], rtol=0, atol=0, msg=key)
