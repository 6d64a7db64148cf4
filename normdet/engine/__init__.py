from .amp import CPUAmpOptimWrapper
from .checkpoint import mmengine_checkpoint_globals
from .hooks import NormEvalHook
from .optimizers import NormAwareOptimWrapperConstructor
from .runner import NormDetRunner, build_runner

__all__ = [
    'CPUAmpOptimWrapper', 'NormAwareOptimWrapperConstructor', 'NormDetRunner', 'NormEvalHook', 'build_runner',
    'mmengine_checkpoint_globals'
]
