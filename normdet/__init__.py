"""normdet: modern normalization layers for MMDetection.

Importing the package registers every layer, backbone and engine component in mmengine's registries.
"""
from . import engine, layers, models  # noqa: F401
from .layers import NORM_TYPES  # noqa: F401

__version__ = '0.1.0'
