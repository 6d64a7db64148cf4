"""Parametrised cases of which ``make test-fast`` runs one and ``make test`` all."""
import pytest


def slow_but_first(cases, ids=None):
    """``cases`` for ``pytest.mark.parametrize`` with all but the first marked slow: the fast suite still runs
    the test once (put its cheapest case first), the full suite runs every case. A case that is a tuple
    gives several arguments; ``ids`` (a list, or a function of the case) names them."""
    params = []
    for i, case in enumerate(cases):
        values = case if isinstance(case, tuple) else (case, )
        case_id = ids[i] if isinstance(ids, (list, tuple)) else (ids(case) if ids else None)
        params.append(pytest.param(*values, id=case_id, marks=[pytest.mark.slow] if i else []))
    return params
