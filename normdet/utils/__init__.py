"""Tools that are not registered components: the norm-layer benchmark (normdet.utils.benchmark)."""
