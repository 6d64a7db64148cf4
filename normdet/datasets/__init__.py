from .samplers import EpochSeededInfiniteSampler
from .shapes import (SHAPES_CLASSES, SHAPES_METAINFO, SHAPES_VERSION, ShapesParams, generate_shapes_dataset,
                     mask_to_coco, render_scene, shapes_params)
from .shapes_crops import SHAPES_CROPS_VERSION, ShapesCropsDataset, generate_shapes_crops
from .shapes_dataset import ShapesDataset, apply_shapes_cfg, generate_shapes_dataset_locked

__all__ = [
    'SHAPES_CLASSES', 'SHAPES_METAINFO', 'SHAPES_VERSION', 'ShapesParams', 'generate_shapes_dataset',
    'mask_to_coco', 'render_scene', 'shapes_params', 'ShapesDataset', 'apply_shapes_cfg',
    'generate_shapes_dataset_locked', 'EpochSeededInfiniteSampler', 'ShapesCropsDataset', 'generate_shapes_crops',
    'SHAPES_CROPS_VERSION'
]
