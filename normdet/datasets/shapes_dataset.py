"""``ShapesDataset``: mmdet's ``CocoDataset`` over the synthetic shapes data, written on first use."""
from typing import Optional

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS
from mmengine.logging import print_log

from .shapes import SHAPES_METAINFO, generate_shapes_dataset
from .utils import generation_lock


def generate_shapes_dataset_locked(data_root, **shapes_cfg) -> dict:
    """:func:`~normdet.datasets.shapes.generate_shapes_dataset` under an exclusive ``fcntl.flock`` on
    ``data_root/.generate.lock``: processes that start together (``tools/dist_train.sh``) wait for the
    one that writes, then find the set complete and skip."""
    with generation_lock(data_root):
        return generate_shapes_dataset(data_root, **shapes_cfg)


@DATASETS.register_module()
class ShapesDataset(CocoDataset):
    """mmdet's ``CocoDataset`` over the shapes data set (:mod:`normdet.datasets.shapes`) in ``data_root``,
    generated there first unless the same parameters were generated already.

    The files are written in ``__init__``, before the annotations are loaded: a fresh clone trains with
    ``tools/train.py`` alone, and a val/test dataset has written the annotation file by the time mmengine
    builds the ``CocoMetric`` that reads it (``ValLoop`` and ``TestLoop`` build their dataloader, and so the
    dataset, before their evaluator). Processes building the same data set at once take turns on a file
    lock (:func:`generate_shapes_dataset_locked`): one writes, the others find it complete.

    The classes are :data:`~normdet.datasets.shapes.SHAPES_CLASSES` (``METAINFO``), so configs need no
    ``metainfo``.

    Args:
        data_root (str): directory of the data set (layout in :mod:`normdet.datasets.shapes`).
        shapes_cfg (dict, optional): keyword arguments of
            :func:`~normdet.datasets.shapes.generate_shapes_dataset` (``num_train``, ``num_val``,
            ``image_size``, ``seed``, ``difficulty``, single knobs of ``ShapesParams``). Default: its
            defaults.
        **kwargs: ``CocoDataset``'s (``ann_file``, ``data_prefix``, ``filter_cfg``, ``pipeline``,
            ``test_mode``, ...).

    Example::

        >>> dataset = ShapesDataset(
        ...     data_root='data/shapes_tiny', shapes_cfg=dict(num_train=4, num_val=2, image_size=128),
        ...     ann_file='annotations/instances_train.json', data_prefix=dict(img='train/'))
        >>> len(dataset), dataset.metainfo['classes'][:2]
        (4, ('circle', 'ellipse'))
    """

    METAINFO = SHAPES_METAINFO

    def __init__(self, *args, data_root: str, shapes_cfg: Optional[dict] = None, **kwargs):
        self.shapes_cfg = dict(shapes_cfg or {})
        result = generate_shapes_dataset_locked(data_root, **self.shapes_cfg)
        if not result['skipped']:
            print_log(f'shapes data set written to {result["out_dir"]} in {result["seconds"]:.1f} s',
                      logger='current')
        super().__init__(*args, data_root=data_root, **kwargs)


# Top-level config variable -> the dataset type it feeds (ShapesCropsDataset: normdet.datasets.shapes_crops).
GENERATOR_CFG_KEYS = {'shapes_cfg': 'ShapesDataset', 'shapes_crops_cfg': 'ShapesCropsDataset'}


def _dataset_cfgs(dataset_cfg, dataset_type):
    """The configs of ``dataset_type`` in a dataset config, wrappers (``dataset=``, ``datasets=[...]``)
    included."""
    if not isinstance(dataset_cfg, dict):
        return
    dataset = dataset_cfg.get('type')
    if dataset == dataset_type or getattr(dataset, '__name__', None) == dataset_type:
        yield dataset_cfg
    yield from _dataset_cfgs(dataset_cfg.get('dataset'), dataset_type)
    for inner in dataset_cfg.get('datasets') or ():
        yield from _dataset_cfgs(inner, dataset_type)


def apply_shapes_cfg(cfg) -> None:
    """Give every ShapesDataset of ``cfg``'s train/val/test dataloaders the config's top-level
    ``shapes_cfg``, and every ShapesCropsDataset its ``shapes_crops_cfg`` (in place; nothing to do without
    them).

    A config file hands its top-level ``shapes_cfg`` to its datasets when it is read, so
    ``--cfg-options shapes_cfg.num_train=8`` changes only the top-level copy; the tools call this after
    merging the options, so that the datasets generate and load what the top-level variables say.
    """
    for key, dataset_type in GENERATOR_CFG_KEYS.items():
        generator_cfg = cfg.get(key)
        if generator_cfg is None:
            continue
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            loader_cfg = cfg.get(loader)
            if isinstance(loader_cfg, dict):
                for dataset_cfg in _dataset_cfgs(loader_cfg.get('dataset'), dataset_type):
                    dataset_cfg[key] = dict(generator_cfg)
