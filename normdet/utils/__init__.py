"""Helpers that are not registered components: the one traversal of the norm configs in a model config
(:mod:`.norm_cfgs`), the measurements of ``tools/analysis_tools/benchmark_norms.py`` (:mod:`.benchmark`) and
what that tool probes of the machine (:mod:`.machine`)."""
