"""Training hooks for the normdet layers."""
import json
import os.path as osp

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from normdet.layers import StochasticWhiteningBN, freeze_running_stats


@HOOKS.register_module()
class NormEvalHook(Hook):
    """Make ``norm_eval=True`` freeze the running statistics of the normdet layers too.

    mmdet's backbones and necks implement ``norm_eval`` by putting torch's ``_BatchNorm`` layers in eval mode
    after every ``model.train()``; BGN, GNPlus, ItN and SWBN would keep updating their running statistics
    (and SWBN its whitening matrix). Before every training iteration, after the loop's ``model.train()``,
    this hook puts every layer with running statistics below a module whose ``norm_eval`` is True in eval
    mode. normdet's own backbones need no hook; add it for mmdet's::

        custom_hooks = [dict(type='NormEvalHook')]
    """

    priority = 'NORMAL'

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        for module in model.modules():
            if getattr(module, 'norm_eval', False) is True and module.training:
                freeze_running_stats(module)


@HOOKS.register_module()
class WhiteningMonitorHook(Hook):
    """Log how white every SWBN layer keeps its output over training (``StochasticWhiteningBN.whitening_stats``).

    Every ``interval`` training iterations it reads each SWBN layer's KL and Frobenius criteria (mean over its
    groups) and the condition number of W (largest over its groups), logs their mean and largest over the
    layers (one log line; ``whitening/kl_mean``, ``whitening/kl_max``, ... in ``vis_data/scalars.json``), and
    at the end of training writes every layer's series to ``<work_dir>/whitening_stats.json``::

        custom_hooks = [dict(type='WhiteningMonitorHook', interval=50)]

    Args:
        interval (int): iterations between two readings. Default: 50.
        out_file (str): file name in the work dir. Default: ``'whitening_stats.json'``.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 50, out_file: str = 'whitening_stats.json'):
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'WhiteningMonitorHook: interval={interval!r}; expected a positive int')
        self.interval = interval
        self.out_file = out_file
        self.series = {}

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if not self.every_n_train_iters(runner, self.interval):
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        readings = {}
        for name, module in model.named_modules():
            if isinstance(module, StochasticWhiteningBN):
                stats = module.whitening_stats()
                if stats is not None:
                    readings[name] = dict(kl=stats['kl'].mean().item(), fro=stats['fro'].mean().item(),
                                          cond=stats['cond'].max().item())
        if not readings:
            return
        for name, reading in readings.items():
            self.series.setdefault(name, []).append(dict(iter=runner.iter + 1, **reading))
        summary = {}
        for key in ('kl', 'fro', 'cond'):
            values = [reading[key] for reading in readings.values()]
            summary[f'whitening/{key}_mean'] = sum(values) / len(values)
            summary[f'whitening/{key}_max'] = max(values)
        runner.visualizer.add_scalars(summary, step=runner.iter + 1)
        runner.logger.info(f'Iter(train) [{runner.iter + 1}] whitening of {len(readings)} SWBN layers, mean / max '
                           'over layers: ' + ', '.join(f'{key} {summary[f"whitening/{key}_mean"]:.4g} / '
                                                       f'{summary[f"whitening/{key}_max"]:.4g}'
                                                       for key in ('kl', 'fro', 'cond')))

    def after_train(self, runner):
        if self.series:
            with open(osp.join(runner.work_dir, self.out_file), 'w') as f:
                json.dump(dict(interval=self.interval, layers=self.series), f, indent=1)
