from .shapes import (SHAPES_CLASSES, SHAPES_METAINFO, SHAPES_VERSION, ShapesParams, generate_shapes_dataset,
                     mask_to_coco, render_scene, shapes_params)

__all__ = [
    'SHAPES_CLASSES', 'SHAPES_METAINFO', 'SHAPES_VERSION', 'ShapesParams', 'generate_shapes_dataset',
    'mask_to_coco', 'render_scene', 'shapes_params'
]
