"""Single-object crops of the shapes scenes: the classification set that stands in for ImageNet when
``make paper-table`` pretrains small backbones before fine-tuning detectors on the shapes scenes.

Each annotated object of a scene becomes one sample: the square around its visible mask's box, widened by
``margin`` of its side on every side (clipped to the scene, so border objects give smaller windows), resized
to ``crop_size`` x ``crop_size`` with Pillow's bilinear filter; its label is the object's class. Crops keep
whatever else lies in the window (other shapes, distractors, texture), as ImageNet photos keep their clutter.

The scenes are drawn by the detection generator (:func:`~normdet.datasets.shapes.render_scene`, same
difficulty knobs) from random streams of their own: scene ``i`` of split ``s`` uses the seed sequence
``(seed, 2 + s, i)``, which no detection scene uses (they use ``(seed, s, i)`` with ``s`` in {0, 1}), so
pretraining never sees a detection image whatever the two seeds are.

Layout written by :func:`generate_shapes_crops` (mmpretrain's ``CustomDataset`` reads it with
``ann_file='meta/train.txt'``, ``data_prefix='train'``)::

    out_dir/train/000000.png ...      crop_size x crop_size RGB
    out_dir/val/000000.png ...
    out_dir/meta/train.txt            '<file name> <label>' per line, labels indexing SHAPES_CLASSES
    out_dir/meta/val.txt
    out_dir/manifest.json             parameters + per-class counts; written last, after a complete run
"""
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
from mmpretrain.datasets import CustomDataset
from mmpretrain.registry import DATASETS

from .shapes import SHAPES_CLASSES, render_scene, shapes_params
from .utils import generation_lock

# Bump whenever the cropping changes, so that sets cached by an older version are regenerated.
SHAPES_CROPS_VERSION = 1
_SPLIT_STREAMS = {'train': 2, 'val': 3}


def _crop_box(mask, margin, size):
    """The square window (x0, y0, x1, y1) around a mask's box, widened by `margin` of its side, clipped."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    cy, cx = (rows[0] + rows[-1] + 1) / 2, (cols[0] + cols[-1] + 1) / 2
    half = max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) * (0.5 + margin)
    x0, y0 = max(0, int(np.floor(cx - half))), max(0, int(np.floor(cy - half)))
    x1, y1 = min(size, int(np.ceil(cx + half))), min(size, int(np.ceil(cy + half)))
    return x0, y0, x1, y1


def _write_split(out_dir, split, num_crops, crop_size, scene_size, seed, params, margin):
    from PIL import Image
    (out_dir / split).mkdir(parents=True, exist_ok=True)
    lines, per_class, scene = [], [0] * len(SHAPES_CLASSES), 0
    while len(lines) < num_crops:
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, _SPLIT_STREAMS[split], scene])))
        image, instances = render_scene(rng, scene_size, params)
        scene += 1
        for label, mask in instances:
            if len(lines) == num_crops:
                break
            crop = Image.fromarray(image).crop(_crop_box(mask, margin, scene_size))
            name = f'{len(lines):06d}.png'
            crop.resize((crop_size, crop_size), Image.BILINEAR).save(out_dir / split / name, format='PNG',
                                                                       compress_level=6)
            lines.append(f'{name} {label}')
            per_class[label] += 1
    (out_dir / 'meta').mkdir(exist_ok=True)
    (out_dir / 'meta' / f'{split}.txt').write_text('\n'.join(lines) + '\n')
    return dict(crops=num_crops, scenes=scene, crops_per_class=dict(zip(SHAPES_CLASSES, per_class)))


def generate_shapes_crops(out_dir, num_train=4000, num_val=600, crop_size=64, scene_size=256, seed=0,
                          difficulty=0.35, margin=0.15, **params):
    """Write the crops (layout in the module docstring) unless ``out_dir/manifest.json`` records the same
    arguments.

    Args:
        out_dir: output directory (created).
        num_train, num_val: crops per split.
        crop_size: side of the square crops in pixels.
        scene_size: side of the scenes they are cut from (the detection set's image size).
        seed: seed of every random choice (streams disjoint from the detection scenes', see above).
        difficulty, **params: scene knobs, as :func:`~normdet.datasets.shapes.shapes_params`.
        margin: context around an object's box, as a fraction of the box's longer side.

    Returns:
        dict with ``out_dir``, ``stats`` (per split: crops, scenes drawn, crops per class), ``skipped`` (True
        when nothing had to be written) and ``seconds``.

    Example:
        >>> info = generate_shapes_crops('data/shapes_crops', num_train=40, num_val=10)
        >>> sorted(info['stats'])
        ['train', 'val']
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    resolved = shapes_params(difficulty, **params)
    key = json.loads(json.dumps(dict(
        version=SHAPES_CROPS_VERSION, num_train=int(num_train), num_val=int(num_val), crop_size=int(crop_size),
        scene_size=int(scene_size), seed=int(seed), margin=float(margin), params=dataclasses.asdict(resolved))))
    manifest_file = out_dir / 'manifest.json'
    manifest = json.loads(manifest_file.read_text()) if manifest_file.is_file() else {}
    skipped = manifest.get('key') == key and all(
        (out_dir / 'meta' / f'{split}.txt').is_file() for split in _SPLIT_STREAMS)
    if skipped:
        stats = manifest['stats']
    else:
        manifest_file.unlink(missing_ok=True)  # an interrupted run must not look complete
        stats = {split: _write_split(out_dir, split, key[f'num_{split}'], int(crop_size), int(scene_size),
                                     int(seed), resolved, float(margin))
                 for split in _SPLIT_STREAMS}
        manifest_file.write_text(json.dumps(dict(key=key, stats=stats), sort_keys=True, indent=2) + '\n')
    return dict(out_dir=str(out_dir), stats=stats, skipped=skipped, seconds=time.perf_counter() - start)


# mmpretrain's registry: classification configs (default_scope='mmpretrain') look their datasets up there.
@DATASETS.register_module()
class ShapesCropsDataset(CustomDataset):
    """The shape crops as an mmpretrain dataset that writes its files on first use.

    Args:
        data_root (str): where :func:`generate_shapes_crops` writes (and finds) the crops.
        split (str): ``'train'`` or ``'val'``.
        shapes_crops_cfg (dict): the generator's arguments, e.g. ``dict(num_train=4000, num_val=600,
            crop_size=64)``; give both splits the same dict.
        **kwargs: as mmpretrain's ``CustomDataset`` (``pipeline``, ``test_mode``, ...).

    Example:
        >>> ds = ShapesCropsDataset('data/shapes_crops', 'val', dict(num_train=40, num_val=10))
        >>> len(ds)
        10
    """
    METAINFO = dict(classes=SHAPES_CLASSES)

    def __init__(self, data_root, split='train', shapes_crops_cfg=None, **kwargs):
        if split not in _SPLIT_STREAMS:
            raise ValueError(f'ShapesCropsDataset: split={split!r} (valid: {", ".join(_SPLIT_STREAMS)})')
        with generation_lock(data_root):
            generate_shapes_crops(data_root, **(shapes_crops_cfg or {}))
        super().__init__(data_root=data_root, data_prefix=split, ann_file=f'meta/{split}.txt', **kwargs)
