"""Weight decay rules that know the normdet layers."""
import torch.nn as nn
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS

from normdet.layers.base import BaseNormLayer


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class NormAwareOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine's default constructor, with the normdet layers treated as norms by ``paramwise_cfg``.

    mmengine recognises a norm layer by ``isinstance`` against torch's norm classes only, so
    ``norm_decay_mult=0`` (the GN paper trains γ, β and here also GN+'s λ without weight decay) would skip
    our layers. Their parameters are handed to the default rules through a GroupNorm stand-in that holds the
    same Parameter objects, so every other rule (custom_keys, lr_mult, bypass_duplicate) applies unchanged.

    Example:
        >>> optim_wrapper = dict(
        ...     constructor='NormAwareOptimWrapperConstructor',
        ...     optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
        ...     paramwise_cfg=dict(norm_decay_mult=0.))
    """

    def add_params(self, params, module, prefix='', is_dcn_module=None):
        if isinstance(module, BaseNormLayer):
            stand_in = nn.GroupNorm.__new__(nn.GroupNorm)
            nn.Module.__init__(stand_in)
            for name, param in module.named_parameters(recurse=False):
                stand_in.register_parameter(name, param)
            module = stand_in
        super().add_params(params, module, prefix=prefix, is_dcn_module=is_dcn_module)
