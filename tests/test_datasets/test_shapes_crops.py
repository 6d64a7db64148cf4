"""The classification crops of make paper-table: each crop is the object's window of its scene, labelled
with the object's class; deterministic; disjoint from the detection scenes; generated once on first use."""
import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from normdet.datasets import SHAPES_CLASSES, ShapesCropsDataset, generate_shapes_crops, render_scene, shapes_params

SMALL = dict(num_train=12, num_val=5, crop_size=32, scene_size=96, seed=3)


def hashes(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(root).rglob('*')) if p.is_file() and p.name != '.generate.lock'}


def test_crops_are_the_objects_windows_with_their_labels(tmp_path):
    info = generate_shapes_crops(tmp_path, **SMALL)
    assert info['stats']['train']['crops'] == 12 and info['stats']['val']['crops'] == 5
    lines = (tmp_path / 'meta' / 'train.txt').read_text().split('\n')[:-1]
    assert len(lines) == 12
    # Re-derive the first scene of the train stream by hand: seed sequence (seed, 2, 0).
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([3, 2, 0])))
    image, instances = render_scene(rng, 96, shapes_params(0.35))
    for (label, mask), line in zip(instances, lines):
        name, written_label = line.split()
        assert int(written_label) == label
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        side = max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)
        cy, cx = (rows[0] + rows[-1] + 1) / 2, (cols[0] + cols[-1] + 1) / 2
        half = side * 0.65  # 0.5 + the default margin 0.15
        box = (max(0, int(np.floor(cx - half))), max(0, int(np.floor(cy - half))),
               min(96, int(np.ceil(cx + half))), min(96, int(np.ceil(cy + half))))
        expected = Image.fromarray(image).crop(box).resize((32, 32), Image.BILINEAR)
        written = Image.open(tmp_path / 'train' / name)
        assert written.size == (32, 32)
        np.testing.assert_array_equal(np.asarray(written.convert('RGB')), np.asarray(expected))


def test_same_arguments_same_bytes_and_no_rewrite(tmp_path):
    generate_shapes_crops(tmp_path / 'a', **SMALL)
    generate_shapes_crops(tmp_path / 'b', **SMALL)
    assert hashes(tmp_path / 'a') == hashes(tmp_path / 'b')
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / 'a').rglob('*.png')}
    assert generate_shapes_crops(tmp_path / 'a', **SMALL)['skipped']
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / 'a').rglob('*.png')} == stamps
    assert not generate_shapes_crops(tmp_path / 'a', **dict(SMALL, seed=4))['skipped']


def test_scenes_differ_from_the_detection_scenes_of_any_seed(tmp_path):
    # The detection set's scene i of split s is drawn from (seed, s, i), s in {0, 1}; crops from (seed, 2 + s, i).
    params = shapes_params(0.35)

    def scene(stream):
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(stream)))
        return render_scene(rng, 96, params)[0]

    crops_scene = scene([3, 2, 0])
    assert not any(np.array_equal(crops_scene, scene([seed, split, 0])) for seed in (0, 3) for split in (0, 1))


def test_dataset_generates_on_first_use_and_reads_labels(tmp_path):
    root = tmp_path / 'crops'
    dataset = ShapesCropsDataset(str(root), 'val', SMALL)
    assert len(dataset) == 5
    assert dataset.metainfo['classes'] == SHAPES_CLASSES
    labels = [int(line.split()[1]) for line in (root / 'meta' / 'val.txt').read_text().split('\n')[:-1]]
    assert [int(dataset.get_data_info(i)['gt_label']) for i in range(5)] == labels
    with pytest.raises(ValueError, match="split='test'.*valid: train, val"):
        ShapesCropsDataset(str(root), 'test', SMALL)
