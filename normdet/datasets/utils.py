"""What the self-generating datasets share."""
import contextlib
import fcntl
from pathlib import Path

# Taken by every process that builds a dataset on the same data_root, for the time of the check (and, for
# the first one, the writing).
LOCK_FILE_NAME = '.generate.lock'


@contextlib.contextmanager
def generation_lock(data_root):
    """Hold an exclusive ``fcntl.flock`` on ``data_root/.generate.lock`` (creating ``data_root``):
    processes that start together (``tools/dist_train.sh``) wait for the one that writes, then find the
    data complete and skip."""
    root = Path(data_root)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK_FILE_NAME, 'a') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        yield
