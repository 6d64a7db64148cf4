"""Training hooks for the normdet layers."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from normdet.layers import freeze_running_stats


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
