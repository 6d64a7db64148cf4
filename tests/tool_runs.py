"""Running normdet's tools and demo scripts from tests: as subprocesses on the tiny Mask R-CNN of
tests/data/configs/ (tests/test_tools/, tests/test_engine/; every subprocess pays ~5-10 s of imports), or
imported in process (:func:`load_script`). tests/conftest.py puts this folder on sys.path."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'tests', 'data', 'configs', 'mask-rcnn_r18-w16_fpn_gn_2it_shapes128.py')
NO_VAL = ['val_cfg=None', 'val_dataloader=None', 'val_evaluator=None']
TIMEOUT = 600


def tool_env(**extra):
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', PYTHON=sys.executable)
    # The shell scripts call `$PYTHON` and torchrun starts workers with the same interpreter.
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env.get('PATH', '')
    env.pop('CUDA_VISIBLE_DEVICES', None)
    env.update(extra)
    return env


def run_tool(cmd, cwd, check=True, env=None):
    """Run ``cmd``; returns the CompletedProcess (stdout and stderr together in ``stdout``)."""
    proc = subprocess.run(cmd, cwd=cwd, env=env or tool_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=TIMEOUT)
    if check:
        assert proc.returncode == 0, f'{" ".join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-6000:]}'
    return proc


def train_cmd(work_dir, *args, config=CONFIG):
    return [sys.executable, osp.join(REPO, 'tools', 'train.py'), config, '--work-dir', work_dir, *args]


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def load_checkpoint(path):
    from normdet.engine import mmengine_checkpoint_globals
    with mmengine_checkpoint_globals():
        return torch.load(path, map_location='cpu')


def run_log(work_dir):
    """Text of the run logs mmengine writes under work_dir/<timestamp>/."""
    logs = [osp.join(root, name) for root, _, names in os.walk(work_dir) for name in names
            if name.endswith('.log')]
    assert logs, f'no log file in {work_dir}'
    return '\n'.join(open(path).read() for path in sorted(logs))


def logged_scalars(work_dir):
    """{iteration: scalars} of every training iteration logged under work_dir (LoggerHook's
    vis_data/scalars.json, full float precision); later runs (resumes) overwrite earlier ones."""
    files = sorted(osp.join(root, name) for root, _, names in os.walk(work_dir) for name in names
                   if name == 'scalars.json')
    scalars = {}
    for path in files:
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if 'loss' in record:
                    scalars[record['iter']] = record
    return scalars


def make_tiny_data(root):
    """data/shapes_tiny under ``root``, as the tiny config expects (data_root is relative)."""
    from normdet.datasets import generate_shapes_dataset
    generate_shapes_dataset(osp.join(root, 'data', 'shapes_tiny'), num_train=4, num_val=2, image_size=128, seed=0)
    return str(root)


def load_script(path):
    """The script at ``path`` (relative to the repository, e.g. ``'demo/compare_norms.py'``) imported as a
    module, to test its functions in process. As when the script runs, its folder comes first on sys.path
    (demo/compare_norms.py imports demo/shapes_demo.py)."""
    import importlib.util
    path = osp.join(REPO, path)
    if osp.dirname(path) not in sys.path:
        sys.path.insert(0, osp.dirname(path))
    spec = importlib.util.spec_from_file_location(osp.splitext(osp.basename(path))[0], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dataset_classes(dataset_cfg):
    """The classes of the dataset a dataset config builds: its ``metainfo``'s or, without one, those of its
    class (``METAINFO``, as mmengine's BaseDataset takes them)."""
    import normdet  # noqa: F401  (registers ShapesDataset)
    from mmdet.registry import DATASETS
    metainfo = dataset_cfg.get('metainfo') or DATASETS.get(dataset_cfg['type']).METAINFO
    return tuple(metainfo['classes'])
