#!/usr/bin/env bash
# Creates .venv/ at the repo root and installs everything normdet needs into it.
# Idempotent: every step is skipped when what it installs is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
PIP="$PY -m pip -qq"
# Built mmcv wheels, one folder per torch build: pip's own wheel cache keys a source build by
# mmcv's version only and would hand back a wheel compiled against another torch.
MMCV_CACHE=${MMCV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/normdet/mmcv}

[ -x "$PY" ] || python3 -m venv "$VENV"

have() { "$PY" - "$@" <<'PYEOF' 2>/dev/null
import importlib.metadata as md, sys
name, want = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None
v = md.version(name)
sys.exit(0 if want is None or v == want else 1)
PYEOF
}

# torch + torchvision: mmpretrain imports torchvision. A pair that already works (a user's own CUDA
# build) is kept. Otherwise the registry's torch 2.13.0 (a CUDA build, which also runs on a CPU) with
# torchvision 0.28.0, whose compiled ops link torch's CUDA libraries and so fail beside a CPU-only
# torch. --isolated: pip's configured find-links here would take a CPU wheel of torch 2.13.0 instead.
if ! "$PY" -c "import torch, torchvision; torchvision.ops.nms" 2>/dev/null; then
    echo "installing torch 2.13.0 and torchvision 0.28.0 (about 5 GB with CUDA's libraries)..."
    $PIP install --isolated torch==2.13.0 torchvision==0.28.0
fi
have setuptools 81.0.0 || $PIP install -r requirements/build.txt
have numpy || $PIP install -r requirements/build.txt

# mmcv 2.1.0 ships as source only; its setup.py imports torch and pkg_resources, hence no isolation.
# CUDA kernels only where a GPU is visible or MMCV_WITH_CUDA=1 asks: nvcc alone is no reason to spend
# an hour compiling kernels nothing here can run.
read -r torch_build gpu <<<"$("$PY" -c "import torch; print(torch.__version__, int(torch.cuda.is_available()))")"
cuda_ops=${MMCV_WITH_CUDA:-$gpu}
ops_tag="torch$torch_build-$([ "$cuda_ops" = 1 ] && echo cuda || echo cpu)"
built_for="$VENV/.mmcv-built-for"
if [ "$(cat "$built_for" 2>/dev/null)" != "$ops_tag" ] || ! "$PY" -c "import mmcv, mmcv.ops" 2>/dev/null; then
    wheels="$MMCV_CACHE/$ops_tag"
    if ! ls "$wheels"/mmcv-2.1.0-*.whl >/dev/null 2>&1; then
        echo "building mmcv 2.1.0 with its compiled ops for $ops_tag (6-13 minutes on 2 cores, once)..."
        mkdir -p "$wheels"
        [ "$cuda_ops" = 1 ] && export FORCE_CUDA=1 || export FORCE_CUDA=0
        MMCV_WITH_OPS=1 $PIP wheel --no-build-isolation --no-deps --no-cache-dir -w "$wheels" mmcv==2.1.0
    fi
    $PIP install --force-reinstall --no-deps "$wheels"/mmcv-2.1.0-*.whl
    $PIP install "$wheels"/mmcv-2.1.0-*.whl  # its own dependencies
    echo "$ops_tag" >"$built_for"
fi

stamp="$VENV/.normdet-installed"
if [ ! -f "$stamp" ] || [ setup.py -nt "$stamp" ] || [ -n "$(find requirements -newer "$stamp")" ]; then
    $PIP install -r requirements/runtime.txt -r requirements/tests.txt
    $PIP install --no-build-isolation --no-deps -e .
    touch "$stamp"
fi

"$PY" - <<'PYEOF'
import mmcv, mmdet, mmengine, mmpretrain, torch, torchvision
from mmcv.ops import nms, RoIAlign  # noqa: F401  (Mask and Faster R-CNN need the compiled ops)
import normdet
from mmengine.registry import MODELS
missing = [t for t in normdet.NORM_TYPES if MODELS.get(t) is None]
assert not missing, f'not registered: {missing}'
print(f'normdet ready: torch {torch.__version__}, torchvision {torchvision.__version__}, '
      f'mmcv {mmcv.__version__} with ops, mmengine {mmengine.__version__}, mmdet {mmdet.__version__}, '
      f'mmpretrain {mmpretrain.__version__}; norms {", ".join(normdet.NORM_TYPES)}')
PYEOF
