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

Layout written by :func:`generate_shapes_dataset` (mmdet ``CocoDataset`` reads it with
``data_prefix=dict(img='train/')`` and ``ann_file='annotations/instances_train.json'``)::

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
"""
import dataclasses
import json
import math
import re
import time
from pathlib import Path

import numpy as np

SHAPES_CLASSES = ('circle', 'ellipse', 'triangle', 'square', 'hexagon', 'star')
SHAPES_METAINFO = dict(
    classes=SHAPES_CLASSES,
    palette=[(220, 20, 60), (0, 130, 200), (60, 180, 75), (245, 130, 48), (145, 30, 180), (70, 240, 240)])
# Bump whenever the drawing changes, so that datasets cached by an older version are regenerated.
SHAPES_VERSION = 1

_SPLIT_IDS = {'train': 0, 'val': 1}
_IMAGE_NAME = re.compile(r'^\d{6}\.png$')
_OBJECT_TEXTURES = ('solid', 'gradient', 'stripes', 'noise')
_OBJECT_TEXTURE_PROBS = (0.4, 0.25, 0.15, 0.2)
_DISTRACTOR_TYPES = ('line', 'arc', 'blob', 'bar', 'dots')
_DISTRACTOR_PROBS = (0.3, 0.2, 0.2, 0.15, 0.15)


@dataclasses.dataclass(frozen=True)
class ShapesParams:
    """Knobs of the scene generator. Sizes are fractions of the image side, so one setting fits all
    image sizes; the comments give the value in pixels at 256 px for the standard setting.

    Args:
        min_objects, max_objects: number of shapes placed per image (inclusive range; a shape that
            finds no free place, or ends up almost hidden, is dropped, so images hold at least 1).
        min_size, max_size: diameter of a shape's bounding circle, drawn log-uniformly (14-115 px).
        min_center_dist: two shapes' centres are at least this times the sum of their radii apart;
            1 means bounding circles never overlap, smaller values allow more occlusion.
        min_visible_frac: an occluded shape is annotated only if this fraction of it stays visible.
        min_visible_area: ... and if its visible part covers this fraction of the image (20 px).
        shape_jitter: relative random perturbation of polygon vertex radii and angles.
        ellipse_aspect: range of the minor/major axis ratio of ellipses (1 would be a circle).
        star_inner: range of the inner/outer radius ratio of the 5-pointed stars.
        min_distractors, max_distractors: number of unannotated clutter items per image.
        distractor_above_prob: probability that a distractor is drawn over the shapes (occluding
            them) instead of under them.
        min_contrast: minimum RGB distance between a shape's colour and the mean colour under it.
        texture_amplitude: strength (grey levels) of background stripes/noise and object textures.
        noise_amplitude: per-pixel noise added to the finished image (grey levels, triangular).
        blur_prob: probability that the finished image is smoothed with a [1, 2, 1] kernel.
    """
    min_objects: int = 2
    max_objects: int = 8
    min_size: float = 0.055
    max_size: float = 0.45
    min_center_dist: float = 0.55
    min_visible_frac: float = 0.35
    min_visible_area: float = 3e-4
    shape_jitter: float = 0.06
    ellipse_aspect: tuple = (0.45, 0.72)
    star_inner: tuple = (0.38, 0.55)
    min_distractors: int = 1
    max_distractors: int = 6
    distractor_above_prob: float = 0.3
    min_contrast: float = 60.0
    texture_amplitude: float = 50.0
    noise_amplitude: float = 12.0
    blur_prob: float = 0.3


_EASY = ShapesParams(
    min_objects=2, max_objects=5, min_size=0.09, max_size=0.40, min_center_dist=0.9, shape_jitter=0.0,
    ellipse_aspect=(0.4, 0.6), star_inner=(0.38, 0.45), min_distractors=0, max_distractors=2,
    distractor_above_prob=0.0, min_contrast=120.0, texture_amplitude=20.0, noise_amplitude=4.0,
    blur_prob=0.0)
_STANDARD = ShapesParams()
_HARD = ShapesParams(
    min_objects=3, max_objects=8, min_size=0.045, max_size=0.5, min_center_dist=0.4, shape_jitter=0.1,
    ellipse_aspect=(0.55, 0.8), star_inner=(0.42, 0.6), min_distractors=3, max_distractors=10,
    distractor_above_prob=0.5, min_contrast=30.0, texture_amplitude=80.0, noise_amplitude=24.0,
    blur_prob=0.5)


def shapes_params(difficulty=0.5, **overrides):
    """Generator knobs for a difficulty in [0, 1] (0 easy, 0.5 standard, 1 hard), linearly
    interpolated knob by knob (integers rounded); keyword arguments override single knobs."""
    if not 0.0 <= difficulty <= 1.0:
        raise ValueError(f'difficulty must be in [0, 1], got {difficulty}')
    lo, hi = (_EASY, _STANDARD) if difficulty <= 0.5 else (_STANDARD, _HARD)
    t = difficulty * 2 if difficulty <= 0.5 else difficulty * 2 - 1

    def lerp(a, b):
        if isinstance(a, tuple):
            return tuple(lerp(x, y) for x, y in zip(a, b))
        value = a + (b - a) * t
        return int(round(value)) if isinstance(a, int) else float(value)

    values = {f.name: lerp(getattr(lo, f.name), getattr(hi, f.name)) for f in dataclasses.fields(ShapesParams)}
    values.update({k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()})
    unknown = set(overrides) - set(values)
    if unknown:
        raise TypeError(f'unknown shapes parameters: {sorted(unknown)}')
    params = ShapesParams(**values)
    if not 1 <= params.min_objects <= params.max_objects:
        raise ValueError('need 1 <= min_objects <= max_objects')
    if not 0 <= params.min_distractors <= params.max_distractors:
        raise ValueError('need 0 <= min_distractors <= max_distractors')
    if not 0 < params.min_size <= params.max_size <= 1:
        raise ValueError('need 0 < min_size <= max_size <= 1')
    return params


# ----------------------------------------------------------------------------------------------------
# Rasterisation: a stamp is (y0, x0, mask) with a boolean mask for the window starting at (y0, x0).
# A pixel (row i, column j) belongs to a shape iff its centre (j + 0.5, i + 0.5) is inside it.


def _window(xmin, ymin, xmax, ymax, size):
    x0, y0 = max(0, int(math.floor(xmin))), max(0, int(math.floor(ymin)))
    x1, y1 = min(size, int(math.ceil(xmax)) + 1), min(size, int(math.ceil(ymax)) + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    px = np.arange(x0, x1, dtype=np.float64)[None, :] + 0.5
    py = np.arange(y0, y1, dtype=np.float64)[:, None] + 0.5
    return y0, x0, px, py


def _polygon_stamp(vertices, size):
    """Even-odd rule; ``vertices`` is a list of (x, y)."""
    xs, ys = [v[0] for v in vertices], [v[1] for v in vertices]
    win = _window(min(xs), min(ys), max(xs), max(ys), size)
    if win is None:
        return None
    y0, x0, px, py = win
    inside = np.zeros((py.shape[0], px.shape[1]), dtype=bool)
    for (xa, ya), (xb, yb) in zip(vertices, vertices[1:] + vertices[:1]):
        if ya == yb:
            continue
        crosses = (ya > py) != (yb > py)
        x_cross = xa + (py - ya) * ((xb - xa) / (yb - ya))
        inside ^= crosses & (px < x_cross)
    return y0, x0, inside


def _ellipse_stamp(cx, cy, a, b, angle, size):
    win = _window(cx - a, cy - a, cx + a, cy + a, size)
    if win is None:
        return None
    y0, x0, px, py = win
    c, s = math.cos(angle), math.sin(angle)
    dx, dy = px - cx, py - cy
    u = (dx * c + dy * s) / a
    v = (dy * c - dx * s) / b
    return y0, x0, u * u + v * v <= 1.0


def _polyline_stamp(points, width, size):
    """Union of capsules of diameter ``width`` around consecutive segments."""
    xs, ys, half = [p[0] for p in points], [p[1] for p in points], width / 2
    win = _window(min(xs) - half, min(ys) - half, max(xs) + half, max(ys) + half, size)
    if win is None:
        return None
    y0, x0, px, py = win
    inside = np.zeros((py.shape[0], px.shape[1]), dtype=bool)
    for (xa, ya), (xb, yb) in zip(points[:-1], points[1:]):
        dx, dy = xb - xa, yb - ya
        length2 = dx * dx + dy * dy
        t = np.clip(((px - xa) * dx + (py - ya) * dy) / length2, 0.0, 1.0) if length2 > 0 else 0.0
        ex, ey = px - xa - t * dx, py - ya - t * dy
        inside |= ex * ex + ey * ey <= half * half
    return y0, x0, inside


def _discs_stamp(discs, size):
    xmin = min(x - r for x, y, r in discs)
    ymin = min(y - r for x, y, r in discs)
    xmax = max(x + r for x, y, r in discs)
    ymax = max(y + r for x, y, r in discs)
    win = _window(xmin, ymin, xmax, ymax, size)
    if win is None:
        return None
    y0, x0, px, py = win
    inside = np.zeros((py.shape[0], px.shape[1]), dtype=bool)
    for x, y, r in discs:
        inside |= (px - x) ** 2 + (py - y) ** 2 <= r * r
    return y0, x0, inside


def _regular_polygon(rng, cx, cy, radius, corners, jitter):
    start = rng.uniform(0, 2 * math.pi)
    step = 2 * math.pi / corners
    vertices = []
    for k in range(corners):
        angle = start + step * (k + rng.uniform(-jitter, jitter))
        r = radius * (1 + rng.uniform(-jitter, jitter))
        vertices.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
    return vertices


def _shape_stamp(rng, label, cx, cy, radius, size, params):
    """Stamp of class ``SHAPES_CLASSES[label]`` inscribed in the circle (cx, cy, radius)."""
    name = SHAPES_CLASSES[label]
    jitter = params.shape_jitter
    if name == 'circle':
        return _ellipse_stamp(cx, cy, radius, radius, 0.0, size)
    if name == 'ellipse':
        aspect = rng.uniform(*params.ellipse_aspect)
        return _ellipse_stamp(cx, cy, radius, radius * aspect, rng.uniform(0, math.pi), size)
    if name == 'star':
        inner = rng.uniform(*params.star_inner)
        start = rng.uniform(0, 2 * math.pi)
        vertices = []
        for k in range(10):
            r = radius * (1 if k % 2 == 0 else inner) * (1 + rng.uniform(-jitter, jitter))
            angle = start + math.pi / 5 * (k + rng.uniform(-jitter, jitter))
            vertices.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
        return _polygon_stamp(vertices, size)
    corners = {'triangle': 3, 'square': 4, 'hexagon': 6}[name]
    return _polygon_stamp(_regular_polygon(rng, cx, cy, radius, corners, jitter), size)


def _distractor_stamp(rng, kind, size, min_px, max_px):
    scale = max(1.0, size / 256)
    if kind == 'line':
        points = [(rng.uniform(0, size), rng.uniform(0, size))]
        for _ in range(int(rng.integers(1, 4))):
            angle, length = rng.uniform(0, 2 * math.pi), rng.uniform(0.1, 0.5) * size
            points.append((points[-1][0] + length * math.cos(angle), points[-1][1] + length * math.sin(angle)))
        return _polyline_stamp(points, rng.uniform(1.0, 3.0) * scale, size)
    if kind == 'arc':
        cx, cy = rng.uniform(0, size), rng.uniform(0, size)
        radius = rng.uniform(min_px, max_px) / 2
        start, span = rng.uniform(0, 2 * math.pi), rng.uniform(0.5, 1.5) * math.pi
        steps = max(4, int(span / (math.pi / 18)))
        points = [(cx + radius * math.cos(start + span * k / steps), cy + radius * math.sin(start + span * k / steps))
                  for k in range(steps + 1)]
        return _polyline_stamp(points, rng.uniform(1.5, 3.0) * scale, size)
    if kind == 'blob':
        # A mix of 2nd-5th harmonics of similar strength keeps blobs irregular: one dominant harmonic
        # would give a rounded ellipse, triangle, square or star, i.e. an unannotated look-alike.
        cx, cy = rng.uniform(0, size), rng.uniform(0, size)
        radius = rng.uniform(1.5 * min_px, max_px) / 2 * 0.7
        harmonics = [(m, rng.uniform(0.08, 0.16), rng.uniform(0, 2 * math.pi)) for m in (2, 3, 4, 5)]
        vertices = []
        for k in range(32):
            t = 2 * math.pi * k / 32
            r = radius * (1 + sum(a * math.cos(m * t + phase) for m, a, phase in harmonics))
            vertices.append((cx + r * math.cos(t), cy + r * math.sin(t)))
        return _polygon_stamp(vertices, size)
    if kind == 'bar':
        cx, cy = rng.uniform(0, size), rng.uniform(0, size)
        length = rng.uniform(0.2, 0.6) * size
        width = max(2.0 * scale, length / rng.uniform(4, 10))
        angle = rng.uniform(0, math.pi)
        c, s = math.cos(angle), math.sin(angle)
        vertices = [(cx + u * c - v * s, cy + u * s + v * c)
                    for u, v in ((-length / 2, -width / 2), (length / 2, -width / 2),
                                 (length / 2, width / 2), (-length / 2, width / 2))]
        return _polygon_stamp(vertices, size)
    # dots: a loose cluster of small discs
    cx, cy, spread = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(0.03, 0.1) * size
    discs = [(cx + rng.uniform(-spread, spread), cy + rng.uniform(-spread, spread), rng.uniform(1.0, 3.0) * scale)
             for _ in range(int(rng.integers(3, 11)))]
    return _discs_stamp(discs, size)


# ----------------------------------------------------------------------------------------------------
# Appearance: float32 RGB values in [0, 255] before the final rounding.


def _smooth_noise(rng, height, width, cells):
    """Bilinear upsampling of a (cells + 1)^2 grid of U(-1, 1) values to (height, width)."""
    grid = rng.uniform(-1, 1, (cells + 1, cells + 1))
    gy = (np.arange(height) + 0.5) * (cells / height)
    gx = (np.arange(width) + 0.5) * (cells / width)
    iy, ix = np.floor(gy).astype(np.int64), np.floor(gx).astype(np.int64)
    fy, fx = (gy - iy)[:, None], (gx - ix)[None, :]
    top = grid[iy][:, ix] * (1 - fx) + grid[iy][:, ix + 1] * fx
    bottom = grid[iy + 1][:, ix] * (1 - fx) + grid[iy + 1][:, ix + 1] * fx
    return top * (1 - fy) + bottom * fy


def _unit_direction(rng):
    angle = rng.uniform(0, 2 * math.pi)
    return math.cos(angle), math.sin(angle)


def _stripes(rng, px, py, period, hard):
    """Triangle wave in [0, 1] (or its 0/1 threshold) along a random direction."""
    c, s = _unit_direction(rng)
    phase = (px * c + py * s) / period + rng.uniform(0, 1)
    wave = np.abs(2 * (phase - np.floor(phase)) - 1)
    return (wave > 0.5).astype(np.float64) if hard else wave


def _texture(rng, kind, y0, x0, height, width, extent, base, amplitude):
    """(height, width, 3) colours of a textured region whose top-left pixel is (y0, x0)."""
    px = np.arange(x0, x0 + width, dtype=np.float64)[None, :] + 0.5
    py = np.arange(y0, y0 + height, dtype=np.float64)[:, None] + 0.5
    base = np.asarray(base, dtype=np.float64)
    if kind == 'solid':
        weight = np.zeros((height, width))
    elif kind == 'gradient':
        c, s = _unit_direction(rng)
        weight = ((px - x0) * c + (py - y0) * s) / max(extent, 1.0)
    elif kind == 'stripes':
        weight = _stripes(rng, px, py, rng.uniform(0.15, 0.5) * max(extent, 4.0), hard=rng.uniform() < 0.5)
    else:
        weight = _smooth_noise(rng, height, width, int(rng.integers(2, 6)))
    delta = rng.uniform(-1, 1, 3) * amplitude
    return base + weight[:, :, None] * delta


def _background(rng, size, params):
    amplitude = params.texture_amplitude
    image = _texture(rng, 'gradient', 0, 0, size, size, size, rng.uniform(0, 255, 3), 2 * amplitude)
    px = np.arange(size, dtype=np.float64)[None, :] + 0.5
    py = np.arange(size, dtype=np.float64)[:, None] + 0.5
    if rng.uniform() < 0.5:
        period = rng.uniform(0.015, 0.25) * size
        wave = _stripes(rng, px, py, period, hard=rng.uniform() < 0.5)
        image = image + wave[:, :, None] * (rng.uniform(-1, 1, 3) * amplitude)
    if rng.uniform() < 0.7:
        noise = _smooth_noise(rng, size, size, int(rng.integers(3, 17)))
        image = image + noise[:, :, None] * (rng.uniform(-1, 1, 3) * amplitude)
    return np.clip(image, 0, 255)


def _pick_colour(rng, under, min_contrast):
    """Random RGB colour at least ``min_contrast`` away from ``under`` (best of 20 tries otherwise)."""
    best, best_dist = None, -1.0
    for _ in range(20):
        colour = rng.uniform(0, 255, 3)
        dist = math.sqrt(sum((float(a) - float(b)) ** 2 for a, b in zip(colour, under)))
        if dist >= min_contrast:
            return colour
        if dist > best_dist:
            best, best_dist = colour, dist
    return best


def _paint(canvas, stamp, colours):
    y0, x0, mask = stamp
    region = canvas[y0:y0 + mask.shape[0], x0:x0 + mask.shape[1]]
    region[mask] = colours[mask]


def _blur(image):
    """Separable [1, 2, 1] / 4 smoothing with edge padding."""
    padded = np.pad(image, ((1, 1), (0, 0), (0, 0)), mode='edge')
    image = (padded[:-2] + 2 * padded[1:-1] + padded[2:]) / 4
    padded = np.pad(image, ((0, 0), (1, 1), (0, 0)), mode='edge')
    return (padded[:, :-2] + 2 * padded[:, 1:-1] + padded[:, 2:]) / 4


def render_scene(rng, size, params):
    """Draw one scene.

    Returns:
        image: (size, size, 3) uint8 RGB.
        instances: list of (label, mask) for the annotated shapes, ``label`` indexing
            :data:`SHAPES_CLASSES` and ``mask`` the (size, size) bool visible part; masks are disjoint.
    """
    min_px, max_px = params.min_size * size, params.max_size * size
    for _ in range(20):  # redraw in the rare case that every shape ended up (almost) hidden
        canvas = _background(rng, size, params)
        # Geometry first: shapes placed with the centre-distance rule, then distractors.
        shapes, placed = [], []
        for _ in range(int(rng.integers(params.min_objects, params.max_objects + 1))):
            label = int(rng.integers(len(SHAPES_CLASSES)))
            radius = math.exp(rng.uniform(math.log(min_px), math.log(max_px))) / 2
            for _ in range(30):
                cx, cy = rng.uniform(radius, size - radius), rng.uniform(radius, size - radius)
                if all(math.hypot(cx - x, cy - y) >= params.min_center_dist * (radius + r) for x, y, r in placed):
                    break
            else:
                continue
            placed.append((cx, cy, radius))
            stamp = _shape_stamp(rng, label, cx, cy, radius, size, params)
            if stamp is not None and stamp[2].any():
                shapes.append((label, 2 * radius, stamp))
        below, above = [], []
        for _ in range(int(rng.integers(params.min_distractors, params.max_distractors + 1))):
            kind = _DISTRACTOR_TYPES[rng.choice(len(_DISTRACTOR_TYPES), p=_DISTRACTOR_PROBS)]
            stamp = _distractor_stamp(rng, kind, size, min_px, max_px)
            if stamp is not None and stamp[2].any():
                (above if rng.uniform() < params.distractor_above_prob else below).append(stamp)

        # Painter's order: distractors under the shapes, shapes, distractors inserted between/over them.
        layers = [(0, None, stamp) for stamp in below] + [(k + 1, extent, stamp)
                                                          for k, (_, extent, stamp) in enumerate(shapes)]
        for stamp in above:
            layers.insert(int(rng.integers(len(below), len(layers) + 1)), (0, None, stamp))
        owner = np.zeros((size, size), dtype=np.int32)  # 0: background or distractor, k + 1: shape k
        drawn_area = {}
        for instance_id, extent, (y0, x0, mask) in layers:
            height, width = mask.shape
            if instance_id:
                under = np.rint(canvas[y0:y0 + height, x0:x0 + width][mask]).astype(np.int64)
                colour = _pick_colour(rng, under.sum(0) / len(under), params.min_contrast)
                kind = _OBJECT_TEXTURES[rng.choice(len(_OBJECT_TEXTURES), p=_OBJECT_TEXTURE_PROBS)]
                drawn_area[instance_id] = int(mask.sum())
            else:
                colour, kind = rng.uniform(0, 255, 3), ('solid', 'gradient')[rng.integers(2)]
                extent = max(height, width)
            colours = _texture(rng, kind, y0, x0, height, width, extent, colour, params.texture_amplitude)
            _paint(canvas, (y0, x0, mask), colours)
            region = owner[y0:y0 + height, x0:x0 + width]
            region[mask] = instance_id

        instances = []
        for k, (label, _, _) in enumerate(shapes):
            visible = owner == k + 1
            area = int(visible.sum())
            if area >= params.min_visible_frac * drawn_area[k + 1] and area >= params.min_visible_area * size * size:
                instances.append((label, visible))
        if instances:
            break

    if rng.uniform() < params.blur_prob:
        canvas = _blur(canvas)
    amplitude = int(round(params.noise_amplitude))
    if amplitude > 0:
        noise = rng.integers(-amplitude, amplitude + 1, canvas.shape) + rng.integers(-amplitude, amplitude + 1,
                                                                                     canvas.shape)
        canvas = canvas + noise / 2
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8), instances


# ----------------------------------------------------------------------------------------------------
# Dataset files.


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
