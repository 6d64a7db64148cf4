"""Writes the state_dict fixtures of tests/test_layers/test_layer_state.py, one ``<type>.pt`` per registered
layer (a few KB each), in the layout of the layers' current state version:

    PYTHONPATH=. python tests/data/state_dicts/make_fixtures.py [TYPE ...]

Each holds the layer's small config and width, its state_dict (with torch's metadata: version and saving
class) after two training steps with random affine parameters, so that running statistics and SWBN's
whitening matrix are away from their initial values, and an input with the layer's evaluation output on it.

A fixture is what a checkpoint of its version looks like: when a layer changes its layout, keep its file
(the migration test loads it) and write the new layer's only where none exists (pass its type).
"""
import pathlib
import sys

import torch
from mmcv.cnn import build_norm_layer

import normdet  # noqa: F401
from normdet.layers import NORM_TYPES, small_norm_cfg

CHANNELS = 8


def make(norm_type: str) -> dict:
    torch.manual_seed(0)
    layer = build_norm_layer(small_norm_cfg(norm_type), CHANNELS)[1]
    with torch.no_grad():
        layer.weight.uniform_(0.5, 1.5)
        layer.bias.uniform_(-0.5, 0.5)
        for _ in range(2):
            layer(torch.randn(4, CHANNELS, 3, 3) * 2 + 1)
        x = torch.randn(2, CHANNELS, 3, 3)
        y = layer.eval()(x)
    return dict(norm_cfg=small_norm_cfg(norm_type), channels=CHANNELS, state_dict=layer.state_dict(), input=x,
                output=y)


if __name__ == '__main__':
    for norm_type in sys.argv[1:] or NORM_TYPES:
        torch.save(make(norm_type), pathlib.Path(__file__).parent / f'{norm_type}.pt')
