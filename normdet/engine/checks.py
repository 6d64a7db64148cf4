"""Configuration checks :class:`~normdet.engine.runner.NormDetRunner` runs while it builds the model, so
that a norm configuration that cannot work stops the run before the first iteration, with the place in
the config or the model, the value, and what would be valid.

* :func:`check_norm_types`, before the model is built: every ``*norm_cfg`` of the model config names a
  registered norm type (mmcv's ``build_norm_layer`` would stop with a ``KeyError`` at the first one,
  without saying where it is or what exists).
* :func:`check_built_norms`, after: the problems each normdet layer found with its own arguments
  (:func:`~normdet.layers.base.collect_config_problems`, e.g. a group count that does not divide the
  channels of that layer), and the problems that depend on how the run is launched, which each layer
  reports itself (:meth:`~normdet.layers.base.BaseNormLayer.run_problems`: ``GNPlus`` with
  ``batch_stats='position'`` fed one image at a time, ``SyncBGN`` in one of several processes that share no
  process group).
"""
import difflib
import inspect
import os

from mmdet.models.roi_heads import BaseRoIHead
from mmengine.registry import MODELS

from ..layers import NORM_LAYERS, NORM_TYPES, BaseNormLayer, NormConfigError
from ..layers.utils import NORM_CLASSES
from ..utils.norm_cfgs import iter_norm_cfgs


def registered_norm_types():
    """``(normdet types, other norm types)`` of mmengine's root registry, where mmcv's
    ``build_norm_layer`` finds them from every scope."""
    others = [name for name, cls in MODELS.module_dict.items()
              if name not in NORM_TYPES and inspect.isclass(cls) and issubclass(cls, NORM_CLASSES)]
    return list(NORM_TYPES), others


def _find_norm_type(norm_type):
    # The lookup mmcv's build_norm_layer does: the current scope's registry, then its parents.
    with MODELS.switch_scope_and_registry(None) as registry:
        return registry.get(norm_type)


def check_norm_types(model_cfg, prefix='model'):
    """Raise :class:`~normdet.layers.base.NormConfigError` naming every norm config under ``model_cfg``
    whose ``type`` is not registered, with the registered types and the closest match."""
    ours, others = registered_norm_types()
    by_lower = {name.lower(): name for name in ours + others}
    problems = []
    for path, norm_cfg in iter_norm_cfgs(model_cfg, prefix):
        norm_type = norm_cfg['type']
        if not isinstance(norm_type, str) or _find_norm_type(norm_type) is not None:
            continue
        close = difflib.get_close_matches(norm_type.lower(), list(by_lower), n=1)
        hint = f"; did you mean '{by_lower[close[0]]}'?" if close else ''
        problems.append(f'{path}: unknown norm type {norm_type!r}{hint}')
    if problems:
        raise NormConfigError('\n'.join(
            problems + [f'normdet norm types: {", ".join(ours)} (registered by `import normdet`)',
                        f'other registered norm types: {", ".join(others)}']))


def check_built_norms(model, collected=(), dataloader_batch_sizes=None, world_size=1, distributed=False):
    """Raise :class:`~normdet.layers.base.NormConfigError` listing every normdet layer of ``model`` that
    cannot work in this run, by module path.

    Args:
        model (nn.Module): the built model (not yet wrapped).
        collected: ``(layer, problems)`` pairs from :func:`~normdet.layers.base.collect_config_problems`.
        dataloader_batch_sizes (dict): images per process of the run's dataloaders, e.g.
            ``{'train_dataloader': 2, 'test_dataloader': 1}``.
        world_size (int): processes the launcher started (``WORLD_SIZE`` of torchrun).
        distributed (bool): whether the run has a process group.
    """
    names = {id(module): name for name, module in model.named_modules()}

    def where(layer):
        return f'model.{names[id(layer)]}' if id(layer) in names else 'a layer outside the model'

    problems = [f'{where(layer)} ({type(layer).__name__}, {layer.num_features} channels): {"; ".join(found)}'
                for layer, found in collected]
    type_names = dict(zip(NORM_LAYERS, NORM_TYPES))
    # Layers below an mmdet RoI head see a batch of RoIs, not of images.
    roi_layers = {id(layer) for head in model.modules() if isinstance(head, BaseRoIHead) for layer in head.modules()}
    for name, module in model.named_modules():
        if not isinstance(module, BaseNormLayer):
            continue
        found = module.run_problems(dict(dataloader_batch_sizes or {}), world_size, distributed,
                                    sees_rois=id(module) in roi_layers)
        norm_type = type_names.get(type(module), type(module).__name__)
        problems += [f'model.{name} ({norm_type}): {problem}' for problem in found]
    if problems:
        raise NormConfigError('the model cannot run with these norm layers:\n  ' + '\n  '.join(problems))


def launched_world_size():
    """Processes started by the launcher, from the variables torchrun and Open MPI set (1 if none)."""
    return int(os.environ.get('WORLD_SIZE') or os.environ.get('OMPI_COMM_WORLD_SIZE') or 1)
