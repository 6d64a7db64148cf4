#!/usr/bin/env bash
# The GPU run of `make bench` (`make bench-cuda`): every layer at the full Mask R-CNN R-50-FPN shapes
# (scale 1: 2 images of 800x1344, 512 box RoIs and 128 mask RoIs per image), the issue-4 and issue-12
# targets and the demo detector's training iteration, on CUDA, writing results/bench_cuda.{md,json,png}.
#
# Estimate on an H100-class GPU: the layer table is ~15 shapes x 8 layers x (2 + 9) rounds of steps that
# move 0.1-1 GB each (~1-10 ms; GW/ItN's floors are ~0.1 TFLOP at most), under a minute with the memory
# pass (each shape's rounds repeat until they take 1 s, --min-seconds: 15-30 s more); the 4 demo configs
# x 23 iterations take ~1 minute with CUDA start-up; well under 5 minutes in all.
#
# Later arguments override these, e.g. a quick check on the CPU:
#   bash tools/analysis_tools/bench_cuda.sh --device cpu --scale 0.05 --e2e-iters 2 --out /tmp/bench_cuda
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-.venv/bin/python}
exec "$PYTHON" tools/analysis_tools/benchmark_norms.py --device cuda --scale 1 --repeats 9 --e2e-iters 20 \
    --out results/bench_cuda "$@"
