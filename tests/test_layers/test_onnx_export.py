"""Every layer in evaluation mode exports to ONNX with both of torch's exporters (torch.export's,
``dynamo=True``, and TorchScript's, ``dynamo=False``, which mmdeploy 1.x drives) with a dynamic batch and
image size, and onnxruntime matches PyTorch to 1e-4 at the traced size and at another."""
import pytest
import torch
from mmcv.cnn import build_norm_layer

import normdet  # noqa: F401
from normdet.layers import NORM_TYPES, small_norm_cfg

onnxruntime = pytest.importorskip('onnxruntime')
pytest.importorskip('onnx')

TRACED, OTHER = (2, 8, 6, 7), (3, 8, 9, 5)


def trained_layer(norm_type):
    """A layer whose parameters and running statistics are far from their initial values (the identity
    whitening matrices of ItN and SWBN would hide an error in W), in evaluation mode."""
    torch.manual_seed(0)
    layer = build_norm_layer(small_norm_cfg(norm_type), 8)[1]
    mixing = torch.randn(8, 8) / 3 + torch.eye(8)  # correlated channels, so that W is not diagonal
    for _ in range(5):
        layer(torch.einsum('dc,nchw->ndhw', mixing, torch.randn(4, 8, 6, 7)) * 2 + 1)
    with torch.no_grad():
        for param in layer.parameters():
            param.add_(torch.randn_like(param) / 4)
    return layer.eval()


@pytest.mark.parametrize('dynamo', [False, True], ids=['torchscript', 'dynamo'])
@pytest.mark.parametrize('norm_type', NORM_TYPES)
def test_exports_and_matches_onnxruntime(norm_type, dynamo, tmp_path):
    if dynamo:
        pytest.importorskip('onnxscript')
    layer = trained_layer(norm_type)
    path = str(tmp_path / f'{norm_type}.onnx')
    torch.onnx.export(layer, (torch.randn(TRACED), ), path, input_names=['x'], output_names=['y'], dynamo=dynamo,
                      dynamic_axes={'x': {0: 'n', 2: 'h', 3: 'w'}, 'y': {0: 'n', 2: 'h', 3: 'w'}})
    session = onnxruntime.InferenceSession(path, providers=['CPUExecutionProvider'])
    for shape in (TRACED, OTHER):
        x = torch.randn(shape) * 2 + 1
        with torch.no_grad():
            expected = layer(x)
        (got, ) = session.run(None, {'x': x.numpy()})
        difference = float((torch.from_numpy(got) - expected).abs().max())
        print(f'{norm_type} {"dynamo" if dynamo else "torchscript"} {shape}: max difference {difference:.2e}')
        assert difference < 1e-4, (norm_type, shape, difference)
