"""What ``tools/train.py`` and ``tools/test.py`` do once their arguments are parsed, and the model the
analysis and deployment tools build, call and count (:func:`build_model`, :func:`tensor_forward`,
:func:`count_flops`).

The command-line flags and their meaning are mmdet 3.3.0's; the runner is
:class:`~normdet.engine.runner.NormDetRunner` (CPU/gloo multi-process runs, torch >= 2.6 checkpoint
loading, ``--amp`` on CPU) unless the config names a ``runner_type``.
"""
import os
import os.path as osp
import warnings
from copy import deepcopy
from functools import partial

import torch
from mmengine.config import Config, ConfigDict, DictAction
from torch.distributed.elastic.multiprocessing.errors import record

from ..datasets import apply_shapes_cfg
from .checkpoint import mmengine_checkpoint_globals
from .runner import build_runner


def parse_tool_args(parser):
    """Add the flags train and test share (``--cfg-options``, ``--launcher``, ``--local_rank``) to
    ``parser``, parse, and set ``LOCAL_RANK`` from ``--local_rank`` unless the launcher already did."""
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override some settings in the used config, the key-value pair in xxx=yyy format will be '
        'merged into config file. If the value to be overwritten is a list, it should be like '
        'key="[a,b]" or key=a,b It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" '
        'Note that the quotation marks are necessary and that no white space is allowed.')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or --local_rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def load_config(config, launcher='none', cfg_options=None, work_dir=None):
    """Read ``config`` and apply what train and test share: the launcher, ``--cfg-options`` (handed on to
    the shapes datasets, :func:`~normdet.datasets.apply_shapes_cfg`) and the work dir (priority:
    ``work_dir`` argument > ``work_dir`` in the file > ``./work_dirs/<config name>``)."""
    cfg = Config.fromfile(config)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    # `--cfg-options shapes_cfg.*` (or shapes_crops_cfg.*) changed only the top-level copy of the data
    # generator's arguments: hand it on to the self-generating datasets.
    apply_shapes_cfg(cfg)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config))[0])
    return cfg


def apply_train_args(cfg, amp=False, auto_scale_lr=False, resume=None):
    """``--amp``: ``AmpOptimWrapper`` with dynamic loss scaling, as mmdet (on CPU the runner turns it
    into bfloat16 autocast). ``--auto-scale-lr``: enable ``cfg.auto_scale_lr``. ``--resume``: ``'auto'``
    resumes from the latest checkpoint of the work dir, a path resumes from that checkpoint."""
    if amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if auto_scale_lr:
        if 'auto_scale_lr' in cfg and 'enable' in cfg.auto_scale_lr and \
                'base_batch_size' in cfg.auto_scale_lr:
            cfg.auto_scale_lr.enable = True
        else:
            raise RuntimeError('Can not find "auto_scale_lr" or "auto_scale_lr.enable" or '
                               '"auto_scale_lr.base_batch_size" in your configuration file.')
    if resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif resume is not None:
        cfg.resume = True
        cfg.load_from = resume
    return cfg


def is_classification(cfg) -> bool:
    """Whether ``cfg`` is an mmpretrain (classification) config: its ``default_scope`` says so, as it says
    which registry the runner builds from."""
    return cfg.get('default_scope') == 'mmpretrain'


def apply_tta(cfg):
    """Test-time augmentation as the ``--tta`` of mmdet's (detection) or mmpretrain's (classification)
    ``tools/test.py``: ``cfg.tta_model`` wraps the model (default ``DetTTAModel`` with NMS 0.5 and 100 per
    image, or ``AverageClsScoreTTA``) and ``cfg.tta_pipeline`` (default: the test pipeline with flipped and
    unflipped views) replaces the test pipeline."""
    classification = is_classification(cfg)
    if 'tta_model' not in cfg:
        warnings.warn('Cannot find ``tta_model`` in config, we will set it as default.')
        cfg.tta_model = dict(type='mmpretrain.AverageClsScoreTTA') if classification else dict(
            type='DetTTAModel', tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))
    if 'tta_pipeline' not in cfg:
        warnings.warn('Cannot find ``tta_pipeline`` in config, we will set it as default.')
        test_data_cfg = cfg.test_dataloader.dataset
        while 'dataset' in test_data_cfg:
            test_data_cfg = test_data_cfg['dataset']
        cfg.tta_pipeline = deepcopy(test_data_cfg.pipeline)
        pack = [test_data_cfg.pipeline[-1]] if classification else [dict(
            type='PackDetInputs',
            meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip', 'flip_direction'))]
        cfg.tta_pipeline[-1] = dict(
            type='TestTimeAug', transforms=[[dict(type='RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)],
                                            pack])
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    return cfg


def apply_show_args(cfg, args):
    """``--show``/``--show-dir``/``--wait-time`` as mmdet's ``tools/test.py`` (its
    ``trigger_visualization_hook``) or, for a classification config, mmpretrain's (the config's
    ``VisualizationHook`` enabled for every image)."""
    if not is_classification(cfg):
        from mmdet.engine.hooks.utils import trigger_visualization_hook
        return trigger_visualization_hook(cfg, args)
    if getattr(args, 'tta', False):
        # mmpretrain's VisualizationHook draws one image per sample and fails on TTA's tuple of views.
        raise ValueError(f'--tta with --show/--show-dir is not supported for classification configs such as '
                         f'{args.config} (mmpretrain cannot paint augmented views); run them separately')
    if 'visualization' not in cfg.default_hooks:
        raise ValueError(f'--show/--show-dir need a VisualizationHook in default_hooks of {args.config}; '
                         f"add default_hooks=dict(visualization=dict(type='VisualizationHook'))")
    cfg.default_hooks.visualization.update(enable=True, show=args.show, wait_time=args.wait_time,
                                           out_dir=args.show_dir, interval=1)
    return cfg


def dump_results_metric(cfg, out_file):
    """``--out``: the metric that pickles the predictions, mmdet's ``DumpDetResults`` or, for a
    classification config, mmengine's ``DumpResults`` (as mmpretrain's ``tools/test.py``)."""
    if is_classification(cfg):
        from mmengine.evaluator import DumpResults
        return DumpResults(out_file_path=out_file)
    from mmdet.evaluation import DumpDetResults
    return DumpDetResults(out_file_path=out_file)


# @record: under torchrun, a failing process's exception (not only its exit code) goes into the job's
# failure report; without torchrun it only re-raises.
@record
def train(args):
    """Body of ``tools/train.py`` (``args`` from its parser)."""
    from mmdet.utils import setup_cache_size_limit_of_dynamo

    setup_cache_size_limit_of_dynamo()
    cfg = load_config(args.config, args.launcher, args.cfg_options, args.work_dir)
    apply_train_args(cfg, amp=args.amp, auto_scale_lr=args.auto_scale_lr, resume=args.resume)
    runner = build_runner(cfg)
    return runner.train()


@record
def test(args):
    """Body of ``tools/test.py``: evaluate ``args.checkpoint`` on the test set; returns the metrics."""
    from mmdet.utils import setup_cache_size_limit_of_dynamo

    setup_cache_size_limit_of_dynamo()
    cfg = load_config(args.config, args.launcher, args.cfg_options, args.work_dir)
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        cfg = apply_show_args(cfg, args)
    if args.tta:
        cfg = apply_tta(cfg)
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        raise ValueError(f'The dump file must be a pkl file, got {args.out}')
    runner = build_runner(cfg)
    if args.out is not None:
        runner.test_evaluator.metrics.append(dump_results_metric(cfg, args.out))
    return runner.test()


def build_model(config, cfg_options=None, checkpoint=None):
    """``(cfg, model)``: the config at path ``config`` (``cfg_options`` merged as ``--cfg-options``) and its
    model, built in the config's ``default_scope`` (``'mmdet'`` unless it names another), with the weights of
    ``checkpoint`` (mmengine's ``{'state_dict': ...}``, loaded strictly) or none: the analysis and deployment
    tools' model."""
    from mmengine.registry import MODELS, init_default_scope
    from mmengine.runner import load_checkpoint

    cfg = load_config(config, cfg_options=cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model = MODELS.build(cfg.model)
    if checkpoint:
        with mmengine_checkpoint_globals():
            load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    return cfg, model


def tensor_forward(model, height: int, width: int):
    """``model`` with its forward bound to ``mode='tensor'`` and, for a detector, the data sample of one
    unpadded H x W image (what its RPN clips proposals to); the input to call it with."""
    from mmdet.models.detectors import BaseDetector
    from mmdet.structures import DetDataSample

    samples = None
    if isinstance(model, BaseDetector):
        size = (height, width)
        samples = [DetDataSample(metainfo=dict(img_shape=size, ori_shape=size, pad_shape=size,
                                               batch_input_shape=size, scale_factor=(1.0, 1.0)))]
    model.forward = partial(model.forward, data_samples=samples, mode='tensor')
    return model, torch.randn(1, 3, height, width)


def count_flops(model, height: int, width: int):
    """``(flop analyzer, parameter count)`` of one forward of ``model`` in evaluation mode on one random
    H x W image (``mode='tensor'``, :func:`tensor_forward`; the image drawn from seed 0, as the RoI heads'
    FLOPs depend on the proposals), normdet's layers counted by their rules
    (:class:`~normdet.layers.NormFlopAnalyzer`). ``model``'s forward stays bound to ``mode='tensor'``:
    hand it a copy to call it otherwise afterwards."""
    from mmengine.analysis import parameter_count

    from ..layers import NormFlopAnalyzer

    torch.manual_seed(0)
    model, inputs = tensor_forward(model.eval(), height, width)
    analyzer = NormFlopAnalyzer(model, (inputs, ))
    analyzer.total()
    return analyzer, parameter_count(model)['']
