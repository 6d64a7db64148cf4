# The CPU demo's schedule (cpu_demo.py) cut to 400 iterations, for the twelve detectors of
# `make paper-table`: same optimizer, warm-up and cosine decay, over a third of the iterations.
_base_ = './cpu_demo.py'

max_iters = 400
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=max_iters, T_max=max_iters - 100,
         eta_min=1e-5)
]
default_hooks = dict(checkpoint=dict(interval=max_iters))
