"""Rasterisation of the scene's geometry into stamps.

A stamp is ``(y0, x0, mask)`` with a boolean ``mask`` for the window of the image starting at row ``y0``,
column ``x0``. A pixel (row i, column j) belongs to a shape iff its centre (j + 0.5, i + 0.5) is inside
it; every test is elementwise IEEE arithmetic in float64, so stamps are the same on every machine.
"""
import math

import numpy as np

from .params import SHAPES_CLASSES



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


def shape_stamp(rng, label, cx, cy, radius, size, params):
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


def distractor_stamp(rng, kind, size, min_px, max_px):
    """Stamp of an unannotated clutter item of `kind` (line, arc, blob, bar, dots) anywhere in the image;
    `min_px`, `max_px` are the shapes' size range, so arcs and blobs come in the shapes' sizes."""
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
