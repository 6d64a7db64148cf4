"""Appearance and composition of one scene: textured background, shapes and distractors in painter's
order, visible masks, final blur and noise. Colours are float64 RGB values in [0, 255] until the final
rounding to uint8."""
import math

import numpy as np

from .params import SHAPES_CLASSES
from .raster import distractor_stamp, shape_stamp

_OBJECT_TEXTURES = ('solid', 'gradient', 'stripes', 'noise')
_OBJECT_TEXTURE_PROBS = (0.4, 0.25, 0.15, 0.2)
_DISTRACTOR_TYPES = ('line', 'arc', 'blob', 'bar', 'dots')
_DISTRACTOR_PROBS = (0.3, 0.2, 0.2, 0.15, 0.15)


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
            stamp = shape_stamp(rng, label, cx, cy, radius, size, params)
            if stamp is not None and stamp[2].any():
                shapes.append((label, 2 * radius, stamp))
        below, above = [], []
        for _ in range(int(rng.integers(params.min_distractors, params.max_distractors + 1))):
            kind = _DISTRACTOR_TYPES[rng.choice(len(_DISTRACTOR_TYPES), p=_DISTRACTOR_PROBS)]
            stamp = distractor_stamp(rng, kind, size, min_px, max_px)
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
