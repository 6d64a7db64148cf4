"""The runner normdet's tools use: mmengine's ``Runner`` plus the fixes mmengine 0.10.7 needs for
CPU-only multi-process training and for loading its own checkpoints with torch >= 2.6.

Nothing is patched: :class:`NormDetRunner` overrides a few Runner methods and is selected by
:func:`build_runner` (``tools/train.py``, ``tools/test.py``) unless the config names a ``runner_type``.
"""
import copy
import logging

from mmengine.dist import is_distributed
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import AmpOptimWrapper
from mmengine.registry import MODEL_WRAPPERS, RUNNERS
from mmengine.runner import Runner
from torch.nn.parallel import DistributedDataParallel

from .checkpoint import mmengine_checkpoint_globals
from .dist import cpu_dist_backend, init_cpu_dist, runs_on_cpu


def _is_amp_optim_wrapper(wrapper_type):
    if isinstance(wrapper_type, str):
        return wrapper_type.split('.')[-1] == 'AmpOptimWrapper'
    return wrapper_type is AmpOptimWrapper


@RUNNERS.register_module()
class NormDetRunner(Runner):
    """:class:`mmengine.runner.Runner` that also runs on CPU-only machines and loads checkpoints with
    torch >= 2.6. With a CUDA device everything but checkpoint loading is mmengine's code path.

    Differences from mmengine's Runner:

    * ``setup_env``: on CPU, a distributed launch initializes the process group itself
      (:func:`~normdet.engine.dist.init_cpu_dist`: no ``torch.cuda.set_device``) with gloo instead of an
      accelerator backend such as the ``'nccl'`` of mmdet's configs, and logs that it did.
    * ``wrap_model``: on CPU, DistributedDataParallel gets ``device_ids=None`` (DDP rejects device ids
      for CPU modules).
    * ``build_optim_wrapper``: on CPU, ``AmpOptimWrapper`` (asserts a GPU) becomes
      :class:`~normdet.engine.amp.CPUAmpOptimWrapper` (bfloat16 autocast of backbone and neck, no loss
      scaling), so ``--amp`` and AMP configs also run on CPU.
    * ``load_checkpoint`` (``load_from``, ``resume``, ``tools/test.py``) and ``_init_model_weights``
      (``init_cfg=dict(type='Pretrained', ...)``): torch >= 2.6 loads with ``weights_only=True``; the
      globals mmengine writes into its checkpoints are allow-listed for the duration of the load
      (:func:`~normdet.engine.checkpoint.mmengine_checkpoint_globals`).
    """

    def setup_env(self, env_cfg):
        self._cpu_dist_note = None
        self._effective_env_cfg = env_cfg
        if self.distributed and not is_distributed() and runs_on_cpu():
            env_cfg = copy.deepcopy(env_cfg)
            dist_cfg = dict(env_cfg.get('dist_cfg') or {})
            requested = dist_cfg.get('backend', 'nccl')
            dist_cfg['backend'] = cpu_dist_backend(requested)
            env_cfg['dist_cfg'] = dist_cfg
            self._effective_env_cfg = env_cfg
            self._cpu_dist_note = (f'No CUDA device: distributed training on CPU with the '
                                   f'{dist_cfg["backend"]!r} backend (config asked for {requested!r}).')
            # The runner's logger does not exist before the process group; _log_env repeats this in
            # the log file.
            print_log(self._cpu_dist_note, logger='current', level=logging.WARNING)
            init_cpu_dist(self.launcher, **dist_cfg)
        super().setup_env(env_cfg)

    def _log_env(self, env_cfg):
        # Log the env_cfg actually used (gloo, not the config's nccl, on CPU).
        super()._log_env(self._effective_env_cfg)
        if self._cpu_dist_note:
            self.logger.warning(self._cpu_dist_note)

    def wrap_model(self, model_wrapper_cfg, model):
        if self.distributed and not is_model_wrapper(model) and runs_on_cpu():
            if model_wrapper_cfg is None:
                # What mmengine builds when the config has no model_wrapper_cfg.
                model_wrapper_cfg = dict(
                    type='MMDistributedDataParallel',
                    broadcast_buffers=False,
                    find_unused_parameters=self.cfg.get('find_unused_parameters', False))
            model_wrapper_cfg = copy.deepcopy(model_wrapper_cfg)
            model_wrapper_cfg.setdefault('type', 'MMDistributedDataParallel')
            wrapper_type = MODEL_WRAPPERS.get(model_wrapper_cfg['type'])
            if isinstance(wrapper_type, type) and issubclass(wrapper_type, DistributedDataParallel):
                # Config values take precedence over mmengine's default device_ids=[LOCAL_RANK].
                model_wrapper_cfg['device_ids'] = None
        return super().wrap_model(model_wrapper_cfg, model)

    def build_optim_wrapper(self, optim_wrapper):
        if (isinstance(optim_wrapper, dict) and _is_amp_optim_wrapper(optim_wrapper.get('type'))
                and runs_on_cpu()):
            optim_wrapper = copy.deepcopy(optim_wrapper)
            optim_wrapper['type'] = 'CPUAmpOptimWrapper'
            # loss_scale and dtype are float16 settings: CPU autocast is bfloat16, which needs no scaling.
            ignored = {key: optim_wrapper.pop(key) for key in ('loss_scale', 'dtype') if key in optim_wrapper}
            self.logger.warning(
                'AmpOptimWrapper needs a GPU; on CPU mixed precision uses CPUAmpOptimWrapper: bfloat16 '
                f'autocast of the backbone and neck, no loss scaling (ignored: {ignored}).')
        return super().build_optim_wrapper(optim_wrapper)

    def load_checkpoint(self, filename, map_location='cpu', strict=False, revise_keys=[(r'^module.', '')]):
        with mmengine_checkpoint_globals():
            return super().load_checkpoint(
                filename, map_location=map_location, strict=strict, revise_keys=revise_keys)

    def _init_model_weights(self):
        # init_cfg=dict(type='Pretrained', checkpoint=<an mmengine checkpoint>) loads through torch.load too.
        with mmengine_checkpoint_globals():
            super()._init_model_weights()


def build_runner(cfg):
    """Build the runner for ``cfg`` as mmdet's tools do, with :class:`NormDetRunner` in place of
    mmengine's ``Runner``: ``cfg.runner_type`` (looked up in mmdet's ``RUNNERS``) when set, else
    :class:`NormDetRunner`. A config without ``default_scope`` gets ``'mmdet'``."""
    from mmdet.registry import RUNNERS as MMDET_RUNNERS

    if cfg.get('default_scope') is None:
        cfg.default_scope = 'mmdet'
    if 'runner_type' not in cfg:
        return NormDetRunner.from_cfg(cfg)
    return MMDET_RUNNERS.build(cfg)
