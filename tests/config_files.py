"""The repository's config files as the tests read them: each parsed once per session (a parse costs about a
third of a second even with the metafiles cached, and one file is read by several tests)."""
import copy
import functools
from pathlib import Path

from mmengine.config import Config

REPO = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO / 'configs'


@functools.lru_cache(maxsize=None)
def _parsed(path: str) -> Config:
    return Config.fromfile(path)


def load_config(*parts) -> Config:
    """The config at ``os.path.join(*parts)``, relative to configs/ unless absolute; a copy, free to change."""
    return copy.deepcopy(_parsed(str(CONFIG_DIR.joinpath(*map(str, parts)))))
