"""The norm configs inside a model config, found by one rule for everything that walks them (the runner's
checks, the benchmark's config variants).

A norm config is a dict with a ``type`` under a key of the form ``[<prefix>_]norm[<digits>]_cfg``: mmdet's
``norm_cfg``, ``stem_norm_cfg``, ``downsample_norm_cfg``, normdet's per-position ``norm1_cfg`` ... ``norm3_cfg``.
"""
import copy
import re

NORM_CFG_KEY = re.compile(r'(.*_)?norm(\d+)?_cfg')


def _walk(cfg, prefix):
    """Yield ``(path, parent, key)`` for every norm config under ``cfg``; ``parent[key]`` is the config."""
    if isinstance(cfg, dict):
        for key, value in cfg.items():
            path = f'{prefix}.{key}'
            if NORM_CFG_KEY.fullmatch(str(key)) and isinstance(value, dict) and 'type' in value:
                yield path, cfg, key
            else:
                yield from _walk(value, path)
    elif isinstance(cfg, (list, tuple)):
        for i, value in enumerate(cfg):
            yield from _walk(value, f'{prefix}.{i}')


def iter_norm_cfgs(cfg, prefix='model'):
    """Yield ``(path, norm_cfg)`` for every norm config under ``cfg``, with ``path`` in ``--cfg-options``
    form, e.g. ``'model.backbone.norm_cfg'``.

    Example:
        >>> cfg = dict(backbone=dict(norm_cfg=dict(type='BN'), stem_norm_cfg=dict(type='GW')))
        >>> [path for path, _ in iter_norm_cfgs(cfg)]
        ['model.backbone.norm_cfg', 'model.backbone.stem_norm_cfg']
    """
    for path, parent, key in _walk(cfg, prefix):
        yield path, parent[key]


def replace_norm_cfgs(cfg, norm_cfg: dict, under=('model', )):
    """A deep copy of a config in which every norm config below the dotted paths ``under`` (default: the
    whole model) is ``norm_cfg``, set whole so that no argument of the old type survives. The original is
    left as it was."""
    cfg = copy.deepcopy(cfg)
    for path in under:
        node = cfg
        for key in path.split('.'):
            node = node[key]
        for _, parent, key in list(_walk(node, path)):
            parent[key] = dict(norm_cfg)
    return cfg
