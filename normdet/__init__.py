"""normdet: modern normalization layers for MMDetection.

Importing the package registers every layer, backbone, dataset and engine component in the OpenMMLab
registries (mmengine's root, mmdet's and mmpretrain's).
"""
from . import datasets, engine, layers, models  # noqa: F401
from .layers import NORM_TYPES  # noqa: F401

__version__ = '0.1.0'
