"""What a benchmark needs to know about, and set on, the machine it runs on: the allocator's treatment of
freed memory, the load other processes put on the CPUs meanwhile, and a description of the hardware.

Example::

    reuse_freed_memory()     # True where glibc now keeps freed memory instead of returning it to the OS
    load = OtherLoad()
    ...                      # measure
    load.cores()             # e.g. 0.01: CPU cores other processes kept busy on average since OtherLoad()
    machine_info(torch.device('cpu'))['cpu']   # e.g. 'AMD EPYC ×2'
"""
import os
import platform
import time
from typing import Optional

import torch


def reuse_freed_memory() -> bool:
    """Make glibc keep freed memory for reuse instead of returning it to the OS (as jemalloc, tcmalloc and
    torch's CUDA caching allocator do). Without it, every full-size tensor of a step is a fresh mapping
    whose pages fault in on first touch; in a VM that costs up to 20 µs a page and varies from run to run,
    swamping the differences a benchmark measures. Returns False where glibc is not the allocator."""
    try:
        import ctypes
        libc = ctypes.CDLL('libc.so.6')
        m_trim_threshold, m_mmap_max = -1, -4  # mallopt parameters: keep up to 2 GiB free at the top, never mmap
        return bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, 2**31 - 1))
    except (OSError, AttributeError):
        return False


class OtherLoad:
    """CPU time used by other processes since construction, in cores (Linux; None elsewhere): timings on a
    shared machine are only comparable when this stays near 0."""

    def __init__(self):
        self.start = self._sample()

    @staticmethod
    def _sample():
        try:
            with open('/proc/stat') as f:
                fields = [int(v) for v in f.readline().split()[1:]]
        except OSError:
            return None
        busy = sum(fields) - fields[3] - fields[4]  # all but idle and iowait, in clock ticks
        own = sum(os.times()[:4]) * os.sysconf('SC_CLK_TCK')
        return busy, own, time.monotonic()

    def cores(self) -> Optional[float]:
        end = self._sample()
        if self.start is None or end is None:
            return None
        busy, own, wall = (b - a for a, b in zip(self.start, end))
        return max(0.0, (busy - own) / os.sysconf('SC_CLK_TCK') / wall) if wall > 0 else None


def machine_info(device: torch.device) -> dict:
    """torch and Python versions, torch's thread count, and the GPU's name (CUDA) or the CPU model and
    count (from /proc/cpuinfo where there is one)."""
    info = dict(torch=torch.__version__, device=str(device), threads=torch.get_num_threads(),
                python=platform.python_version())
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
    else:
        try:
            with open('/proc/cpuinfo') as f:
                names = [line.split(':', 1)[1].strip() for line in f if line.startswith('model name')]
            info['cpu'] = f'{names[0]} ×{len(names)}' if names else platform.processor()
        except OSError:
            info['cpu'] = platform.processor()
    return info
