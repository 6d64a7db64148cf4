"""Deterministic synthetic instance-segmentation dataset ("shapes") in COCO format.

Every image is a cluttered scene of 2-8 annotated shapes (classes :data:`SHAPES_CLASSES`) drawn over a
textured background together with distractors that are not annotated (thin lines, arcs, irregular blobs,
bars, dot clusters). The class of an object is carried by its silhouette only: colour and texture are drawn
independently of the class, and several classes are close (circle / ellipse / hexagon, square / hexagon).
Objects are drawn one over the other, so annotations describe the *visible* part of every object:

* ``segmentation``: compressed COCO RLE (``counts`` as str) of the visible mask, exact to the pixel;
* ``area``: number of pixels of that mask;
* ``bbox``: tight ``[x, y, w, h]`` box of that mask (pixel ``i`` spans ``[i, i + 1)``);
* objects whose visible part is below ``min_visible_frac`` of their drawn area, or below
  ``min_visible_area`` of the image, are left in the image but not annotated (as COCO does with
  almost hidden objects).

Layout written by :func:`generate_shapes_dataset` (mmdet's ``CocoDataset`` reads it with
``data_prefix=dict(img='train/')`` and ``ann_file='annotations/instances_train.json'``;
:class:`~normdet.datasets.ShapesDataset` is that ``CocoDataset`` generating the files on first use)::

    out_dir/train/000000.png ...
    out_dir/val/000000.png ...
    out_dir/annotations/instances_train.json
    out_dir/annotations/instances_val.json
    out_dir/manifest.json          parameters + statistics; present only after a complete run

Determinism: image ``i`` of a split is drawn from its own generator seeded with ``(seed, split, i)``, so
it does not depend on how many images the split has. Rasterisation is done in numpy with pixel-centre
tests and only elementwise IEEE arithmetic (no OpenCV drawing, no per-pixel transcendental functions),
PNGs are written by Pillow with a fixed compression level and JSON with sorted keys: the same seed and
parameters give byte-identical files with the same library versions.

Difficulty: :func:`shapes_params` interpolates every knob of :class:`ShapesParams` between an easy
(``difficulty=0``), the standard (``0.5``) and a hard (``1``) setting; single knobs can be overridden.

Modules: :mod:`.params` (classes, knobs, difficulty), :mod:`.raster` (geometry to pixel masks),
:mod:`.scene` (appearance and composition of one image), :mod:`.coco_files` (the files of a data set).
"""
from .coco_files import generate_shapes_dataset, mask_to_coco
from .params import SHAPES_CLASSES, SHAPES_METAINFO, SHAPES_VERSION, ShapesParams, shapes_params
from .scene import render_scene

__all__ = [
    'SHAPES_CLASSES', 'SHAPES_METAINFO', 'SHAPES_VERSION', 'ShapesParams', 'generate_shapes_dataset',
    'mask_to_coco', 'render_scene', 'shapes_params'
]
