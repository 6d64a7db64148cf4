"""normdet.engine.amp: CPUAmpOptimWrapper autocasts the feature extractor only, and --amp trains the demo
model with every normdet layer (tools/train.py subprocesses, marked slow)."""
import math
import os.path as osp

import pytest
import torch

from tool_runs import NO_VAL, REPO, load_checkpoint, logged_scalars, run_log, run_tool, tool_env, train_cmd


class _ToyDetector(torch.nn.Module):

    def __init__(self):
        super().__init__()
        self.backbone = torch.nn.Linear(4, 4)
        self.head = torch.nn.Linear(4, 1)
        self.seen = {}
        self.head.register_forward_hook(lambda m, args, out: self.seen.update(head=out.dtype))
        self.backbone.register_forward_hook(lambda m, args, out: self.seen.update(backbone=out.dtype))

    def forward(self, x):
        features = self.backbone(x)
        self.seen['features'] = features.dtype
        return self.head(features).sum()


def test_cpu_amp_optim_wrapper_autocasts_backbone_only():
    from normdet.engine import CPUAmpOptimWrapper
    model = _ToyDetector()
    before = model.head.weight.detach().clone()
    wrapper = CPUAmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    with wrapper.optim_context(model):
        loss = model(torch.randn(3, 4))
    # inside the backbone's forward: bfloat16 (hook order: the recording hook runs before our cast)
    assert model.seen['backbone'] == torch.bfloat16
    assert model.seen['features'] == torch.float32 and model.seen['head'] == torch.float32
    assert not torch.is_autocast_enabled('cpu')
    wrapper.update_params(loss)
    assert model.head.weight.dtype == torch.float32 and not torch.equal(model.head.weight, before)
    # a CUDA AmpOptimWrapper state dict (with GradScaler state) loads
    state = wrapper.state_dict()
    state['loss_scaler'] = {'scale': 65536.0}
    wrapper.load_state_dict(state)


# 40 iterations, not 200: in the registry's torch 2.13.0 (the CUDA build that make install takes, run on
# the CPU) bfloat16 matmuls are far slower than float32 on this CPU (2048 x 2048: 62 s against 0.18 s), so
# an --amp iteration of the demo model takes ~3.8 s and 200 of them per layer would not fit CI.
AMP_ITERS = 40
# Fewer images than the demo's 400/100, handed to the datasets through --cfg-options shapes_cfg.*.
AMP_DATA = dict(num_train=40, num_val=2)
AMP_CONFIGS = {
    'GW': 'mask-rcnn_r18-w32_fpn_gw-paper_400it_shapes.py',
    'BGN': 'mask-rcnn_r18-w32_fpn_bgn_400it_shapes.py',
    'GNPlus': 'mask-rcnn_r18-w32_fpn_gnplus_400it_shapes.py',
    'ItN': 'mask-rcnn_r18-w32_fpn_itn_400it_shapes.py',
    'SWBN': 'mask-rcnn_r18-w32_fpn_swbn_400it_shapes.py',
}


@pytest.fixture(scope='module')
def demo_workspace(tmp_path_factory):
    """data/shapes as the demo configs expect it (same generator settings), with fewer images."""
    from mmengine.config import Config

    from normdet.datasets import generate_shapes_dataset
    root = tmp_path_factory.mktemp('amp')
    shapes_cfg = dict(Config.fromfile(osp.join(REPO, 'configs', 'demo', AMP_CONFIGS['BGN'])).shapes_cfg)
    shapes_cfg.update(AMP_DATA)
    generate_shapes_dataset(osp.join(root, 'data', 'shapes'), **shapes_cfg)
    return str(root)


@pytest.mark.slow
@pytest.mark.parametrize('norm', list(AMP_CONFIGS))
def test_amp_trains_the_demo_model_for_40_iterations(norm, demo_workspace):
    work_dir = osp.join(demo_workspace, f'amp-{norm}')
    config = osp.join(REPO, 'configs', 'demo', AMP_CONFIGS[norm])
    run_tool(train_cmd(work_dir, '--amp', '--cfg-options', f'train_cfg.max_iters={AMP_ITERS}',
                       'default_hooks.logger.interval=1', f'default_hooks.checkpoint.interval={AMP_ITERS}', *NO_VAL,
                       *(f'shapes_cfg.{key}={value}' for key, value in AMP_DATA.items()),
                       config=config), demo_workspace, env=tool_env(OMP_NUM_THREADS='2'))
    assert 'CPUAmpOptimWrapper' in run_log(work_dir)
    scalars = logged_scalars(work_dir)
    assert sorted(scalars) == list(range(1, AMP_ITERS + 1))
    bad = {it: s['loss'] for it, s in scalars.items() if not math.isfinite(s['loss'])}
    assert not bad, f'non-finite losses: {bad}'
    state = load_checkpoint(osp.join(work_dir, f'iter_{AMP_ITERS}.pth'))['state_dict']
    stats = {k: v for k, v in state.items()
             if k.rsplit('.', 1)[-1] in ('running_mean', 'running_var', 'running_wm', 'whitening_matrix')}
    if norm != 'GW':  # GW keeps no statistics
        assert stats
    for key, value in stats.items():
        assert value.dtype == torch.float32, key
        assert torch.isfinite(value).all(), key
