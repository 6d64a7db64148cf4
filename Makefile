# All set-up lives in tools/install.sh; every target that needs the environment depends on it.
PY := .venv/bin/python
# mmengine imports pkg_resources, which setuptools 81 flags on every start.
export PYTHONWARNINGS := ignore:pkg_resources is deprecated as an API

.PHONY: install test test-fast demo compare paper-table bench bench-cuda bench-coco-step clean

install:
	@bash tools/install.sh

test: install
	$(PY) -m pytest -q -p no:cacheprovider --durations=10 tests

# Everything but the tests marked slow (subprocesses; all but one case of each full-size model test).
test-fast: install
	$(PY) -m pytest -q -p no:cacheprovider --durations=10 -m "not slow" tests

demo: install
	$(PY) demo/shapes_demo.py

compare: install
	$(PY) demo/compare_norms.py

# The GW paper's Table 2 recipe in miniature: pretrain 3 backbones, fine-tune and train from scratch 12 detectors.
paper-table: install
	$(PY) demo/paper_table.py

# Options through BENCH_ARGS, e.g. make bench BENCH_ARGS=--compile (the demo detector eager and compiled too).
bench: install
	$(PY) tools/analysis_tools/benchmark_norms.py $(BENCH_ARGS)

# On a CUDA machine, in under 5 minutes: every layer at scale 1 and the demo iteration -> results/bench_cuda.md.
bench-cuda: install
	PYTHON=$(PY) bash tools/analysis_tools/bench_cuda.sh

# One COCO-size (800x1344) training step of each paper config at random init, interleaved -> results/bench_coco_step.md.
bench-coco-step: install
	$(PY) tools/analysis_tools/benchmark_norms.py --coco-step

clean:
	rm -rf work_dirs .pytest_cache
