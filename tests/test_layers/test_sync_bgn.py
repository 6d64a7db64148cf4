"""SyncBGN in 2 gloo processes on loopback equals BGN on the concatenated batch."""
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from normdet.layers import BatchGroupNorm, SyncBatchGroupNorm

C, GROUPS = 8, 4


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def make_problem(sizes):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(sum(sizes), C, 5, 4, generator=gen, dtype=torch.float64) * 2 + 0.5
    grad_out = torch.randn(x.shape, generator=gen, dtype=torch.float64)
    return x, grad_out


def run_layer(layer, x, grad_out, steps=2):
    """Two training steps (running statistics move twice), then an eval forward."""
    x = x.clone().requires_grad_()
    for _ in range(steps):
        y = layer(x)
        (y * grad_out).sum().backward()
    layer.eval()
    return y.detach(), x.grad / steps, layer.weight.grad / steps, layer.bias.grad / steps, layer(x.detach()), \
        layer.running_mean.clone(), layer.running_var.clone()


def worker(rank, port, sizes, out_dir):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    x, grad_out = make_problem(sizes)
    start = sum(sizes[:rank])
    part = slice(start, start + sizes[rank])
    layer = SyncBatchGroupNorm(C, num_groups=GROUPS).double()
    y, gx, gw, gb, y_eval, rm, rv = run_layer(layer, x[part], grad_out[part])
    # Parameter gradients of the summed loss: what DDP's all-reduce would add up.
    dist.all_reduce(gw)
    dist.all_reduce(gb)
    torch.save(dict(y=y, gx=gx, gw=gw, gb=gb, y_eval=y_eval, rm=rm, rv=rv), f'{out_dir}/rank{rank}.pt')
    dist.destroy_process_group()


@pytest.mark.slow  # 2 spawned gloo processes per case
@pytest.mark.parametrize('sizes', [(2, 2), (3, 1), (4, 0)], ids=['even', 'uneven', 'one-empty'])
def test_sync_bgn_two_processes_equal_bgn_on_the_whole_batch(sizes, tmp_path):
    mp.start_processes(worker, args=(free_port(), sizes, str(tmp_path)), nprocs=2, start_method='spawn')
    x, grad_out = make_problem(sizes)
    y, gx, gw, gb, y_eval, rm, rv = run_layer(BatchGroupNorm(C, num_groups=GROUPS).double(), x, grad_out)
    parts = [torch.load(tmp_path / f'rank{r}.pt') for r in range(2)]
    cat = {k: torch.cat([p[k] for p in parts]) for k in ('y', 'gx', 'y_eval')}
    close = dict(rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(cat['y'], y, **close)
    torch.testing.assert_close(cat['gx'], gx, **close)
    torch.testing.assert_close(cat['y_eval'], y_eval, **close)
    for p in parts:
        torch.testing.assert_close(p['gw'], gw, **close)
        torch.testing.assert_close(p['gb'], gb, **close)
        torch.testing.assert_close(p['rm'], rm, **close)
        torch.testing.assert_close(p['rv'], rv, **close)


def test_sync_bgn_without_process_group_is_bgn():
    x, grad_out = make_problem((3, ))
    a = run_layer(SyncBatchGroupNorm(C, num_groups=GROUPS).double(), x, grad_out)
    b = run_layer(BatchGroupNorm(C, num_groups=GROUPS).double(), x, grad_out)
    for u, v in zip(a, b):
        torch.testing.assert_close(u, v, rtol=0, atol=0)
