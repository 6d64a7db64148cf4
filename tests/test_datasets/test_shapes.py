"""Synthetic shapes dataset: determinism, caching, exact COCO annotations, loading through mmdet."""
import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from normdet.datasets import SHAPES_CLASSES, ShapesParams, generate_shapes_dataset, render_scene, shapes_params

SMALL = dict(num_train=6, num_val=3, image_size=96)


def file_hashes(root):
    root = Path(root)
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob('*')) if p.is_file()}


@pytest.fixture(scope='module')
def small_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp('shapes')
    return generate_shapes_dataset(out, seed=3, **SMALL)


def test_layout_and_return_value(small_dataset):
    hashes = file_hashes(small_dataset['out_dir'])
    assert sorted(hashes) == sorted(
        ['manifest.json', 'annotations/instances_train.json', 'annotations/instances_val.json'] +
        [f'train/{i:06d}.png' for i in range(6)] + [f'val/{i:06d}.png' for i in range(3)])
    assert small_dataset['skipped'] is False
    assert small_dataset['stats']['train']['images'] == 6
    assert small_dataset['classes'] == SHAPES_CLASSES


def test_same_seed_gives_identical_bytes(small_dataset, tmp_path):
    generate_shapes_dataset(tmp_path, seed=3, **SMALL)
    assert file_hashes(tmp_path) == file_hashes(small_dataset['out_dir'])


def test_different_seed_gives_different_images(small_dataset, tmp_path):
    generate_shapes_dataset(tmp_path, seed=4, **SMALL)
    ours, theirs = file_hashes(tmp_path), file_hashes(small_dataset['out_dir'])
    pngs = [name for name in ours if name.endswith('.png')]
    assert len(pngs) == 9 and all(ours[name] != theirs[name] for name in pngs)
    assert ours['annotations/instances_train.json'] != theirs['annotations/instances_train.json']


def test_image_does_not_depend_on_split_length(small_dataset, tmp_path):
    generate_shapes_dataset(tmp_path, seed=3, num_train=2, num_val=1, image_size=96)
    ours, theirs = file_hashes(tmp_path), file_hashes(small_dataset['out_dir'])
    for name in ('train/000000.png', 'train/000001.png', 'val/000000.png'):
        assert ours[name] == theirs[name]


def test_skips_when_generated_and_regenerates_on_change(tmp_path):
    first = generate_shapes_dataset(tmp_path, seed=1, **SMALL)
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.rglob('*') if p.is_file()}
    again = generate_shapes_dataset(tmp_path, seed=1, **SMALL)
    assert again['skipped'] is True and again['stats'] == first['stats']
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob('*') if p.is_file()} == stamps

    changed = generate_shapes_dataset(tmp_path, seed=1, num_train=4, num_val=3, image_size=96, min_objects=3)
    assert changed['skipped'] is False
    assert sorted(p.name for p in (tmp_path / 'train').iterdir()) == [f'{i:06d}.png' for i in range(4)]

    (tmp_path / 'val' / '000001.png').unlink()  # an incomplete directory is regenerated too
    assert generate_shapes_dataset(tmp_path, seed=1, num_train=4, num_val=3, image_size=96,
                                   min_objects=3)['skipped'] is False


@pytest.mark.parametrize('split', ['train', 'val'])
def test_annotations_match_their_masks(small_dataset, split):
    from pycocotools.coco import COCO
    coco = COCO(small_dataset['ann_files'][split])
    assert [coco.cats[k]['name'] for k in sorted(coco.cats)] == list(SHAPES_CLASSES)
    assert sorted(coco.cats) == list(range(1, len(SHAPES_CLASSES) + 1))
    assert len(coco.imgs) == {'train': 6, 'val': 3}[split]
    for image_id, info in coco.imgs.items():
        with Image.open(Path(small_dataset['img_dirs'][split]) / info['file_name']) as image:
            assert image.size == (info['width'], info['height']) == (96, 96) and image.mode == 'RGB'
        anns = coco.imgToAnns[image_id]
        assert 1 <= len(anns) <= 8
        covered = np.zeros((96, 96), dtype=np.int64)
        for ann in anns:
            mask = coco.annToMask(ann).astype(bool)
            rows, cols = np.nonzero(mask)
            x0, y0 = cols.min(), rows.min()
            assert ann['bbox'] == [x0, y0, cols.max() - x0 + 1, rows.max() - y0 + 1]
            assert ann['area'] == len(rows)
            assert ann['iscrowd'] == 0 and isinstance(ann['segmentation']['counts'], str)
            covered += mask
        assert covered.max() <= 1, 'visible masks of one image must not overlap'


def test_mmdet_coco_dataset_loads_boxes_and_masks(small_dataset):
    from mmdet.datasets import CocoDataset
    from mmdet.utils import register_all_modules
    from pycocotools.coco import COCO
    register_all_modules()
    root = Path(small_dataset['out_dir'])
    dataset = CocoDataset(
        data_root=str(root), ann_file='annotations/instances_train.json', data_prefix=dict(img='train/'),
        metainfo=dict(classes=SHAPES_CLASSES),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
                  dict(type='PackDetInputs')])
    assert len(dataset) == 6
    coco = COCO(small_dataset['ann_files']['train'])
    for index in (0, 5):
        sample = dataset[index]
        image_id = sample['data_samples'].img_id
        anns = coco.imgToAnns[image_id]
        gt = sample['data_samples'].gt_instances
        assert sample['inputs'].shape == (3, 96, 96)
        assert len(gt.bboxes) == len(gt.masks) == len(anns) >= 1
        expected_boxes = [[x, y, x + w, y + h] for x, y, w, h in (a['bbox'] for a in anns)]
        np.testing.assert_array_equal(gt.bboxes.tensor.numpy(), np.array(expected_boxes, dtype=np.float32))
        assert gt.labels.tolist() == [a['category_id'] - 1 for a in anns]
        for mask, ann in zip(gt.masks.masks, anns):
            np.testing.assert_array_equal(mask.astype(bool), coco.annToMask(ann).astype(bool))


def test_scenes_mix_small_and_large_objects():
    params = shapes_params()
    sides = []
    for index in range(12):
        image, instances = render_scene(np.random.default_rng(index), 256, params)
        assert image.shape == (256, 256, 3) and image.dtype == np.uint8
        for _, mask in instances:
            rows, cols = np.nonzero(mask)
            sides.append(max(rows.max() - rows.min(), cols.max() - cols.min()) + 1)
    assert min(sides) <= 20 and max(sides) >= 80


def test_difficulty_presets_and_overrides():
    assert shapes_params(0.5) == ShapesParams()
    easy, hard = shapes_params(0.0), shapes_params(1.0)
    assert easy.min_size > ShapesParams().min_size > hard.min_size
    assert easy.max_distractors < ShapesParams().max_distractors < hard.max_distractors
    assert shapes_params(0.25).max_objects in range(easy.max_objects, ShapesParams().max_objects + 1)
    assert shapes_params(0.5, max_objects=4, ellipse_aspect=[0.5, 0.6]).ellipse_aspect == (0.5, 0.6)
    with pytest.raises(TypeError):
        shapes_params(0.5, no_such_knob=1)
    with pytest.raises(ValueError):
        shapes_params(1.5)


def test_coco_metric_scores_ground_truth_as_perfect(small_dataset):
    """The RLE ground truth survives mmdet's evaluation path: predicting it exactly gives AP 1."""
    import torch
    from mmdet.evaluation import CocoMetric
    from pycocotools.coco import COCO
    ann_file = small_dataset['ann_files']['val']
    coco = COCO(ann_file)
    metric = CocoMetric(ann_file=ann_file, metric=['bbox', 'segm'])
    metric.dataset_meta = dict(classes=SHAPES_CLASSES)
    predictions = []
    for image_id, anns in coco.imgToAnns.items():
        boxes = [[x, y, x + w, y + h] for x, y, w, h in (a['bbox'] for a in anns)]
        predictions.append(dict(img_id=image_id, ori_shape=(96, 96), pred_instances=dict(
            bboxes=torch.tensor(boxes, dtype=torch.float32), scores=torch.ones(len(anns)),
            labels=torch.tensor([a['category_id'] - 1 for a in anns]),
            masks=torch.from_numpy(np.stack([coco.annToMask(a) for a in anns]).astype(bool)))))
    metric.process({}, predictions)
    results = metric.evaluate(len(predictions))
    assert results['coco/bbox_mAP'] == pytest.approx(1.0) and results['coco/segm_mAP'] == pytest.approx(1.0)
