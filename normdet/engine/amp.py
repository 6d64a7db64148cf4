"""Automatic mixed precision on CPU.

mmengine's ``AmpOptimWrapper`` (what ``tools/train.py --amp`` selects, as in mmdet) asserts that a GPU,
NPU, MLU or MUSA device is present, although mmengine's own ``autocast`` supports the CPU with bfloat16.
:class:`CPUAmpOptimWrapper` is the CPU counterpart; :class:`~normdet.engine.runner.NormDetRunner`
substitutes it for ``AmpOptimWrapper`` when the run is on CPU, so configs and ``--amp`` stay the same on
every machine.
"""
from contextlib import contextmanager

import torch
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS


def _to_float32(outputs):
    """``outputs`` with every bfloat16/float16 tensor (also inside tuples, lists, dicts) cast to float32."""
    if isinstance(outputs, torch.Tensor):
        return outputs.float() if outputs.dtype in (torch.bfloat16, torch.float16) else outputs
    if isinstance(outputs, (tuple, list)):
        return type(outputs)(_to_float32(o) for o in outputs)
    if isinstance(outputs, dict):
        return type(outputs)((k, _to_float32(v)) for k, v in outputs.items())
    return outputs


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """Mixed precision training on CPU: the feature extractor (``model.backbone`` and ``model.neck``)
    runs under ``torch.autocast('cpu', dtype=torch.bfloat16)`` and hands float32 features to the heads;
    parameters, gradients and optimizer state stay float32.

    Why not the whole forward, as CUDA's ``AmpOptimWrapper`` does: mmcv's CPU kernels (``nms``,
    ``RoIAlign``) have no bfloat16 implementation, and bfloat16's 8-bit mantissa would put box
    coordinates off by up to 4 px at 1000 px. The backbone and neck are where the convolution time is.
    A model without any of ``autocast_modules`` runs its whole forward under autocast.

    No loss scaling: bfloat16 has float32's 8-bit exponent, so small gradients do not underflow the way
    they do in float16 (the reason CUDA's ``AmpOptimWrapper`` needs a ``GradScaler``).

    Args:
        dtype (str or torch.dtype): autocast dtype; CPU autocast supports only ``'bfloat16'``.
        autocast_modules (Sequence[str]): attributes of the model whose forward runs under autocast.
            Defaults to ``('backbone', 'neck')``.
        **kwargs: arguments of :class:`mmengine.optim.OptimWrapper` (optimizer, clip_grad,
            accumulative_counts).
    """

    def __init__(self, dtype='bfloat16', autocast_modules=('backbone', 'neck'), **kwargs):
        super().__init__(**kwargs)
        dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
        if dtype != torch.bfloat16:
            raise ValueError(f'CPU autocast supports only torch.bfloat16, got {dtype}')
        self.cast_dtype = dtype
        self.autocast_modules = tuple(autocast_modules)

    def load_state_dict(self, state_dict):
        # A checkpoint of CUDA's AmpOptimWrapper also holds its GradScaler state, which has no use here.
        state_dict = dict(state_dict)
        state_dict.pop('loss_scaler', None)
        super().load_state_dict(state_dict)

    @contextmanager
    def optim_context(self, model):
        module = model.module if is_model_wrapper(model) else model
        targets = [getattr(module, name) for name in self.autocast_modules
                   if isinstance(getattr(module, name, None), torch.nn.Module)]
        with super().optim_context(model):
            if not targets:
                with torch.autocast('cpu', dtype=self.cast_dtype):
                    yield
                return
            # Forward hooks open an autocast region around each target's forward and close it after.
            active = []

            def enter(_module, _args):
                region = torch.autocast('cpu', dtype=self.cast_dtype)
                region.__enter__()
                active.append(region)

            def leave(_module, _args, outputs):
                active.pop().__exit__(None, None, None)
                return _to_float32(outputs)

            handles = []
            for target in targets:
                handles += [target.register_forward_pre_hook(enter), target.register_forward_hook(leave)]
            try:
                yield
            finally:
                for handle in handles:
                    handle.remove()
                while active:  # a forward that raised never reached its `leave`
                    active.pop().__exit__(None, None, None)
