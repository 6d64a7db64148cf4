"""ShapesDataset: generates its files on first use (once, also when processes start together), before
the evaluator reads them; the config's top-level shapes_cfg reaches every dataset."""
import hashlib
import multiprocessing
import os.path as osp
from pathlib import Path

import pytest
from mmengine.config import Config

from normdet.datasets import (SHAPES_CLASSES, SHAPES_METAINFO, ShapesDataset, apply_shapes_cfg,
                              generate_shapes_dataset, generate_shapes_dataset_locked)

REPO = Path(__file__).resolve().parents[2]
SMALL = dict(num_train=6, num_val=3, image_size=96, seed=3)
TRAIN = dict(ann_file='annotations/instances_train.json', data_prefix=dict(img='train/'))


def data_hashes(root):
    """sha256 of every file the generator writes (the lock file aside)."""
    root = Path(root)
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob('*')) if p.is_file() and p.name != '.generate.lock'}


def test_generates_on_first_use_then_reuses(tmp_path):
    root = tmp_path / 'shapes'
    dataset = ShapesDataset(data_root=str(root), shapes_cfg=SMALL, **TRAIN)
    assert len(dataset) == 6
    assert dataset.metainfo['classes'] == SHAPES_CLASSES == SHAPES_METAINFO['classes']
    assert dataset.metainfo['palette'] == SHAPES_METAINFO['palette']
    reference = tmp_path / 'reference'
    generate_shapes_dataset(reference, **SMALL)
    assert data_hashes(root) == data_hashes(reference)  # exactly what the generator writes

    stamps = {p: p.stat().st_mtime_ns for p in root.rglob('*') if p.is_file()}
    again = ShapesDataset(data_root=str(root), shapes_cfg=SMALL, test_mode=True,
                          ann_file='annotations/instances_val.json', data_prefix=dict(img='val/'))
    assert len(again) == 3
    assert {p: p.stat().st_mtime_ns for p in root.rglob('*') if p.is_file()} == stamps


def _build_in_process(root, queue):
    queue.put(generate_shapes_dataset_locked(root, **SMALL)['skipped'])


def test_processes_starting_together_write_once(tmp_path):
    """As with tools/dist_train.sh: every rank builds the dataset; one writes, the others wait and skip."""
    root = str(tmp_path / 'shapes')
    context = multiprocessing.get_context('fork')
    queue = context.Queue()
    processes = [context.Process(target=_build_in_process, args=(root, queue)) for _ in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=300)
    assert [process.exitcode for process in processes] == [0, 0, 0]
    assert sorted(queue.get(timeout=10) for _ in processes) == [False, True, True]
    reference = tmp_path / 'reference'
    generate_shapes_dataset(reference, **SMALL)
    assert data_hashes(root) == data_hashes(reference)


def tiny_cfg(data_root):
    """The tools' tiny config (ShapesDataset train/val/test, CocoMetric) on a fresh ``data_root``."""
    cfg = Config.fromfile(str(REPO / 'tests' / 'data' / 'configs' / 'mask-rcnn_r18-w16_fpn_gn_2it_shapes128.py'))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
    for evaluator in ('val_evaluator', 'test_evaluator'):
        cfg[evaluator].ann_file = osp.join(data_root, 'annotations', 'instances_val.json')
    return cfg


@pytest.mark.parametrize('loop', ['val_loop', 'test_loop'])
def test_evaluator_builds_on_a_fresh_data_root(loop, tmp_path):
    """ValLoop and TestLoop build their dataset before their CocoMetric, which reads the val annotations
    when it is built: the dataset has written them by then."""
    from mmengine.runner import Runner

    import normdet  # noqa: F401
    data_root = str(tmp_path / 'fresh')
    cfg = tiny_cfg(data_root)
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    built = getattr(runner, loop)
    coco_api = built.evaluator.metrics[0]._coco_api
    assert len(coco_api.imgs) == 2 and len(built.dataloader.dataset) == 2
    assert osp.isfile(osp.join(data_root, 'manifest.json'))


def test_top_level_shapes_cfg_reaches_every_dataset():
    cfg = Config.fromfile(str(REPO / 'configs' / 'demo' / 'mask-rcnn_r18-w32_fpn_gn_400it_shapes.py'))
    cfg.merge_from_dict({'shapes_cfg.num_train': 8, 'shapes_cfg.num_val': 2})
    assert cfg.train_dataloader.dataset.shapes_cfg.num_train == 400  # what the options alone do
    apply_shapes_cfg(cfg)
    expected = dict(num_train=8, num_val=2, image_size=256, seed=0, difficulty=0.35)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[loader].dataset.shapes_cfg == expected, loader

    wrapped = Config(dict(shapes_cfg=dict(num_train=4), train_dataloader=dict(dataset=dict(
        type='RepeatDataset', times=2, dataset=dict(type='ShapesDataset', shapes_cfg=dict(num_train=400)))),
        val_dataloader=dict(dataset=dict(type='ConcatDataset', datasets=[
            dict(type='ShapesDataset', shapes_cfg={}), dict(type='CocoDataset')]))))
    apply_shapes_cfg(wrapped)
    assert wrapped.train_dataloader.dataset.dataset.shapes_cfg == dict(num_train=4)
    assert wrapped.val_dataloader.dataset.datasets[0].shapes_cfg == dict(num_train=4)
    assert 'shapes_cfg' not in wrapped.val_dataloader.dataset.datasets[1]

    no_shapes = Config(dict(train_dataloader=dict(dataset=dict(type='ShapesDataset', shapes_cfg=dict(seed=1)))))
    apply_shapes_cfg(no_shapes)
    assert no_shapes.train_dataloader.dataset.shapes_cfg == dict(seed=1)
