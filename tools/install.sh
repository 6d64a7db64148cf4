#!/usr/bin/env bash
# Creates .venv/ at the repo root and installs everything normdet needs into it.
# Idempotent: every step is skipped when what it installs is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
PIP="$PY -m pip -qq"

[ -x "$PY" ] || python3 -m venv "$VENV"

have() { "$PY" - "$@" <<'PYEOF' 2>/dev/null
import importlib.metadata as md, sys
name, want = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None
v = md.version(name)
sys.exit(0 if want is None or v == want else 1)
PYEOF
}

# A torch that is already there (a user's CUDA build) is kept; otherwise the pinned CPU wheel.
have torch || $PIP install torch==2.13.0
have setuptools 81.0.0 || $PIP install -r requirements/build.txt
have numpy || $PIP install -r requirements/build.txt

if ! "$PY" -c "import mmcv, mmcv.ops" 2>/dev/null; then
    # mmcv 2.1.0 ships as source only; its setup.py imports torch and pkg_resources, hence no isolation.
    cuda=$("$PY" -c "import torch; print(int(torch.version.cuda is not None))")
    if [ "$cuda" = 1 ] && command -v nvcc >/dev/null; then export FORCE_CUDA=1; fi
    echo "building mmcv 2.1.0 with its compiled ops (about 6 minutes on 2 cores the first time)..."
    MMCV_WITH_OPS=1 $PIP install --no-build-isolation mmcv==2.1.0
fi

stamp="$VENV/.normdet-installed"
if [ ! -f "$stamp" ] || [ setup.py -nt "$stamp" ] || [ -n "$(find requirements -newer "$stamp")" ]; then
    $PIP install -r requirements/runtime.txt -r requirements/tests.txt
    $PIP install --no-build-isolation --no-deps -e .
    touch "$stamp"
fi

"$PY" - <<'PYEOF'
import mmcv, mmdet, mmengine, torch
from mmcv.ops import nms, RoIAlign  # noqa: F401  (Mask and Faster R-CNN need the compiled ops)
import normdet
from mmengine.registry import MODELS
missing = [t for t in normdet.NORM_TYPES if MODELS.get(t) is None]
assert not missing, f'not registered: {missing}'
print(f'normdet ready: torch {torch.__version__}, mmcv {mmcv.__version__} with ops, '
      f'mmengine {mmengine.__version__}, mmdet {mmdet.__version__}; norms {", ".join(normdet.NORM_TYPES)}')
PYEOF
