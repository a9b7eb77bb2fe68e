"""One 2-rank spawn shared by the model-parallel and collectives tests."""

from __future__ import annotations

import pytest

from lm.parallel.launch import run_ranks
from tests.lm.parallel import model_parallel_ranks as ranks


@pytest.fixture(scope="session")
def model_parallel_runs() -> list[dict]:
    return run_ranks(ranks.run_all, world_size=2, timeout_s=100)
