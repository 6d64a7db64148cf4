"""What a shapes data set is made of: its classes, the version of the drawing, the generator's knobs and
their difficulty presets."""
import dataclasses

SHAPES_CLASSES = ('circle', 'ellipse', 'triangle', 'square', 'hexagon', 'star')
SHAPES_METAINFO = dict(
    classes=SHAPES_CLASSES,
    palette=[(220, 20, 60), (0, 130, 200), (60, 180, 75), (245, 130, 48), (145, 30, 180), (70, 240, 240)])
# Bump whenever the drawing changes, so that datasets cached by an older version are regenerated.
SHAPES_VERSION = 1


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
