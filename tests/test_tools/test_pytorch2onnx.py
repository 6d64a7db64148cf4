"""tools/deployment/pytorch2onnx.py on the tiny Mask R-CNN with GW in backbone and neck, from a checkpoint
of a freshly built model: it exports backbone + neck with a dynamic image size (TorchScript's exporter) and
onnxruntime's feature maps match PyTorch's to 1e-4 at the traced size and at another."""
import re
import sys

import pytest
import torch
from tool_runs import CONFIG, REPO, run_tool

pytest.importorskip('onnxruntime')
pytest.importorskip('onnx')

GW = {'model.backbone.norm_cfg': dict(type='GW', num_groups=4), 'model.neck.norm_cfg': dict(type='GW', num_groups=4)}
# The same as --cfg-options of the tool.
GW_ARGS = [f'{key}.{name}={value}' for key, norm_cfg in GW.items() for name, value in norm_cfg.items()]


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    from normdet.engine.entrypoints import build_model
    _, model = build_model(CONFIG, GW)
    model.init_weights()
    path = tmp_path_factory.mktemp('pytorch2onnx') / 'gw.pth'
    torch.save({'state_dict': model.state_dict()}, path)
    return path


# TorchScript's exporter only: torch.export's takes 2.5 min on this detector (2 CPU cores), and each layer is
# checked under both in tests/test_layers/test_onnx_export.py.
@pytest.mark.slow
def test_exports_backbone_and_neck_and_matches_onnxruntime(checkpoint):
    out = checkpoint.parent / 'model.onnx'
    cmd = [sys.executable, 'tools/deployment/pytorch2onnx.py', CONFIG, str(checkpoint), '--out', str(out),
           '--shape', '64', '96', '--check-shape', '96', '64', '--cfg-options', *GW_ARGS]
    proc = run_tool(cmd, cwd=REPO)
    assert out.exists()
    sizes = re.findall(r'^(\d+x\d+): max .* per output: (.*)$', proc.stdout, re.M)
    assert [size for size, _ in sizes] == ['64x96', '96x64'], proc.stdout
    assert all(len(diffs.split(', ')) == 5 for _, diffs in sizes)  # the five FPN levels
    worst = float(re.search(r'max difference: (\S+)', proc.stdout).group(1))
    assert worst <= 1e-4, proc.stdout
