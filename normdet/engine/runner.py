"""The runner normdet's tools use: mmengine's ``Runner`` plus the fixes mmengine 0.10.7 needs for
CPU-only multi-process training and for loading its own checkpoints with torch >= 2.6.

Nothing is patched: :class:`NormDetRunner` overrides a few Runner methods and is selected by
:func:`build_runner` (``tools/train.py``, ``tools/test.py``) unless the config names a ``runner_type``.
"""
import copy
import logging
import os.path as osp

from mmengine.dist import all_gather_object, is_distributed, is_main_process
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import AmpOptimWrapper
from mmengine.registry import MODEL_WRAPPERS, RUNNERS
from mmengine.runner import Runner
from torch.nn.parallel import DistributedDataParallel

from ..layers import collect_config_problems
from .checkpoint import find_resumable_checkpoint, mmengine_checkpoint_globals, write_atomically
from .checks import check_built_norms, check_norm_types, launched_world_size
from .dist import cpu_dist_backend, init_cpu_dist, runs_on_cpu
from .rng import RestoreRNGStateHook, rng_state


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
    * ``build_model``: a norm configuration that cannot work stops the run before it starts, with the
      config key or module path, the value and the valid values (:mod:`normdet.engine.checks`).
    * ``save_checkpoint``: a local checkpoint is written to a temporary file and renamed, so an
      interrupted write leaves the previous checkpoints intact; every checkpoint also holds each process's
      random generator states (:mod:`normdet.engine.rng`).
    * ``load_or_resume`` and ``resume``: ``--resume`` without a path falls back to the newest checkpoint
      when ``last_checkpoint`` is missing or broken, and restores the random state, so the resumed run
      computes the losses the uninterrupted run would have (same number of processes, deterministic ops).
    """

    def build_model(self, model):
        if isinstance(model, dict):
            check_norm_types(model)
        with collect_config_problems() as problems:
            model = super().build_model(model)
        batch_sizes = {}
        for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            loader = getattr(self, f'_{name}', None)
            if isinstance(loader, dict) and loader.get('batch_size') is not None:
                batch_sizes[name] = loader['batch_size']
        check_built_norms(model, problems, batch_sizes, world_size=launched_world_size(),
                          distributed=self.distributed)
        return model

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
            checkpoint = super().load_checkpoint(
                filename, map_location=map_location, strict=strict, revise_keys=revise_keys)
        self._loaded_rng_states = checkpoint.get('meta', {}).get('rng_states')
        return checkpoint

    def save_checkpoint(self, out_dir, filename, file_client_args=None, save_optimizer=True,
                        save_param_scheduler=True, meta=None, by_epoch=True, backend_args=None):
        # A collective: mmengine calls save_checkpoint on every process (only the main one writes).
        meta = dict(meta or {}, rng_states=all_gather_object(rng_state()))
        args = dict(file_client_args=file_client_args, save_optimizer=save_optimizer,
                    save_param_scheduler=save_param_scheduler, meta=meta, by_epoch=by_epoch,
                    backend_args=backend_args)
        if file_client_args is not None or backend_args is not None or '://' in str(out_dir):
            return super().save_checkpoint(out_dir, filename, **args)  # a remote store: its own semantics

        def write(temp_path):
            super(NormDetRunner, self).save_checkpoint(out_dir, osp.basename(temp_path), **args)

        if is_main_process():
            write_atomically(write, osp.join(out_dir, filename))
        else:
            write(osp.join(out_dir, filename))  # takes part in the collectives; writes nothing

    def load_or_resume(self):
        if self._resume and self._load_from is None and not self._has_loaded:
            self._load_from = find_resumable_checkpoint(self.work_dir)
            if self._load_from is not None:
                self.logger.info(f'Auto resume: continuing from {self._load_from}')
        super().load_or_resume()

    def resume(self, filename, resume_optimizer=True, resume_param_scheduler=True, map_location='default'):
        super().resume(filename, resume_optimizer=resume_optimizer,
                       resume_param_scheduler=resume_param_scheduler, map_location=map_location)
        states = self._loaded_rng_states
        if not states:
            self.logger.warning(f'{filename} holds no random state (not written by NormDetRunner): the '
                                f'resumed run draws different random numbers than an uninterrupted one would')
        elif len(states) != self.world_size:
            self.logger.warning(f'{filename} holds the random state of {len(states)} processes, this run has '
                                f'{self.world_size}: the random state is not restored')
        else:
            self.register_hook(RestoreRNGStateHook(states[self.rank]))

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
