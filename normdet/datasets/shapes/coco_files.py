"""The data set's files: images rendered per split, COCO annotation files and the manifest that lets
:func:`generate_shapes_dataset` skip a set that is already there (layout in :mod:`normdet.datasets.shapes`)."""
import dataclasses
import json
import re
import time
from pathlib import Path

import numpy as np

from .params import SHAPES_CLASSES, SHAPES_VERSION, shapes_params
from .scene import render_scene

_SPLIT_IDS = {'train': 0, 'val': 1}
_IMAGE_NAME = re.compile(r'^\d{6}\.png$')


def _image_rng(seed, split, index):
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, _SPLIT_IDS[split], index])))


def mask_to_coco(mask):
    """COCO fields of a bool mask: compressed RLE (counts as str), pixel area, tight [x, y, w, h] box."""
    from pycocotools import mask as mask_utils
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    bbox = [int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)]
    return dict(segmentation=dict(size=[int(s) for s in rle['size']], counts=rle['counts']),
                area=int(mask.sum()), bbox=bbox)


def _write_split(out_dir, split, num_images, image_size, seed, params):
    from PIL import Image
    image_dir = out_dir / split
    image_dir.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for index in range(num_images):
        image, instances = render_scene(_image_rng(seed, split, index), image_size, params)
        file_name = f'{index:06d}.png'
        Image.fromarray(image).save(image_dir / file_name, format='PNG', compress_level=6)
        image_id = index + 1
        images.append(dict(id=image_id, file_name=file_name, height=image_size, width=image_size))
        for label, mask in instances:
            annotations.append(dict(id=len(annotations) + 1, image_id=image_id, category_id=label + 1,
                                    iscrowd=0, **mask_to_coco(mask)))
    coco = dict(
        info=dict(description=f'normdet synthetic shapes, {split} split', version=str(SHAPES_VERSION)),
        licenses=[],
        images=images,
        annotations=annotations,
        categories=[dict(id=k + 1, name=name, supercategory='shape') for k, name in enumerate(SHAPES_CLASSES)])
    ann_file = out_dir / 'annotations' / f'instances_{split}.json'
    ann_file.write_text(json.dumps(coco, sort_keys=True, separators=(',', ':')))
    per_class = [0] * len(SHAPES_CLASSES)
    for ann in annotations:
        per_class[ann['category_id'] - 1] += 1
    return dict(images=num_images, instances=len(annotations),
                instances_per_class=dict(zip(SHAPES_CLASSES, per_class)))


def _is_complete(out_dir, manifest, key):
    if manifest.get('key') != key:
        return False
    for split in _SPLIT_IDS:
        if not (out_dir / 'annotations' / f'instances_{split}.json').is_file():
            return False
        names = [p.name for p in (out_dir / split).glob('*.png')] if (out_dir / split).is_dir() else []
        if len(names) != key[f'num_{split}']:
            return False
    return True


def generate_shapes_dataset(out_dir, num_train=400, num_val=100, image_size=256, seed=0, difficulty=0.5,
                            **params):
    """Write the shapes dataset to ``out_dir`` (layout in the module docstring) unless the same
    parameters were generated there already, which ``out_dir/manifest.json`` records.

    Args:
        out_dir: output directory (created).
        num_train, num_val: images per split.
        image_size: side of the square images in pixels.
        seed: seed of every random choice.
        difficulty: scene difficulty in [0, 1], see :func:`shapes_params`.
        **params: overrides of single :class:`ShapesParams` knobs.

    Returns:
        dict with ``out_dir``, ``ann_files`` and ``img_dirs`` (per split), ``classes``, ``params``
        (resolved knobs), ``stats`` (per split: images, instances, instances_per_class), ``skipped``
        (True when nothing had to be written) and ``seconds`` (time spent).
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    resolved = shapes_params(difficulty, **params)
    key = dict(version=SHAPES_VERSION, num_train=int(num_train), num_val=int(num_val),
               image_size=int(image_size), seed=int(seed), params=dataclasses.asdict(resolved))
    key = json.loads(json.dumps(key))  # tuples -> lists, as read back from the manifest
    manifest_file = out_dir / 'manifest.json'
    manifest = json.loads(manifest_file.read_text()) if manifest_file.is_file() else {}
    skipped = _is_complete(out_dir, manifest, key)
    if skipped:
        stats = manifest['stats']  # read back with sorted keys: restore the class order
        for split_stats in stats.values():
            counts = split_stats['instances_per_class']
            split_stats['instances_per_class'] = {name: counts[name] for name in SHAPES_CLASSES}
    else:
        manifest_file.unlink(missing_ok=True)  # an interrupted run must not look complete
        (out_dir / 'annotations').mkdir(parents=True, exist_ok=True)
        for split in _SPLIT_IDS:
            if (out_dir / split).is_dir():
                for path in (out_dir / split).iterdir():
                    if _IMAGE_NAME.match(path.name):
                        path.unlink()
        stats = {split: _write_split(out_dir, split, key[f'num_{split}'], int(image_size), int(seed), resolved)
                 for split in _SPLIT_IDS}
        manifest_file.write_text(json.dumps(dict(key=key, stats=stats), sort_keys=True, indent=2) + '\n')
    return dict(
        out_dir=str(out_dir),
        ann_files={split: str(out_dir / 'annotations' / f'instances_{split}.json') for split in _SPLIT_IDS},
        img_dirs={split: str(out_dir / split) for split in _SPLIT_IDS},
        classes=SHAPES_CLASSES,
        params=key['params'],
        stats=stats,
        skipped=skipped,
        seconds=time.perf_counter() - start)
