"""Test folders mirror the package and have no __init__.py; helpers shared across them (tool_runs.py,
cases.py) live in this folder, which pytest puts on sys.path because this conftest is here."""
import functools

import pytest


@pytest.fixture(scope='session', autouse=True)
def cached_metafiles():
    """mmengine resolves each ``mmdet::``/``mmpretrain::`` base of a config by parsing all of the package's
    metafiles (714 YAML files for mmdet), about half a second per base; they do not change within a
    session, so every config test reads them once."""
    import mmengine.config.utils as config_utils
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(config_utils, 'load', functools.lru_cache(maxsize=None)(config_utils.load))
        yield
