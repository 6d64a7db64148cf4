from .amp import CPUAmpOptimWrapper
from .checkpoint import mmengine_checkpoint_globals
from .hooks import NormEvalHook, WhiteningMonitorHook
from .optimizers import NormAwareOptimWrapperConstructor
from .runner import NormDetRunner, build_runner

__all__ = [
    'CPUAmpOptimWrapper', 'NormAwareOptimWrapperConstructor', 'NormDetRunner', 'NormEvalHook',
    'WhiteningMonitorHook', 'build_runner', 'mmengine_checkpoint_globals'
]
