"""tools/analysis_tools/get_flops.py on the tiny Mask R-CNN with GW in its backbone: the norm layers' count
is the sum of their rules over the inputs the model gives them, on top of what the counter counts of the
rest, and the script prints FLOPs and parameters."""
import sys

import pytest
import torch
from tool_runs import CONFIG, REPO, load_script, run_tool

from normdet.layers import GroupWhitening, norm_flops

GW_BACKBONE = {'model.backbone.norm_cfg': dict(type='GW', num_groups=4)}


def test_counts_each_norm_layer_by_its_rule_on_the_inputs_it_gets():
    tool = load_script('tools/analysis_tools/get_flops.py')
    analyzer, params = tool.count(CONFIG, 64, 96, GW_BACKBONE)
    model = analyzer._model
    layers = [m for m in model.modules() if isinstance(m, GroupWhitening)]
    assert len(layers) == 1 + 2 * 8 + 3  # ResNet-18: the stem, two per block, three downsample branches
    inputs = []
    hooks = [m.register_forward_pre_hook(lambda m, args: inputs.append((m, args[0].shape))) for m in layers]
    with torch.no_grad():
        model(torch.randn(1, 3, 64, 96))  # eager, not traced: the inputs by another path than the counter's
    for hook in hooks:
        hook.remove()
    assert len(inputs) == len(layers)
    by_op = analyzer.by_operator()
    assert by_op['GW'] == sum(norm_flops(m, shape) for m, shape in inputs) > 0
    assert by_op['conv'] > 0 and analyzer.total() == sum(by_op.values())
    assert params == sum(p.numel() for p in model.parameters())


@pytest.mark.slow
def test_script_prints_flops_and_params():
    proc = run_tool([sys.executable, 'tools/analysis_tools/get_flops.py', CONFIG, '--shape', '64', '96'], cwd=REPO)
    assert 'FLOPs: ' in proc.stdout and 'multiply-adds' in proc.stdout and 'Params: ' in proc.stdout
