from .hooks import NormEvalHook
from .optimizers import NormAwareOptimWrapperConstructor

__all__ = ['NormAwareOptimWrapperConstructor', 'NormEvalHook']
