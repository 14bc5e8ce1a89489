"""Shared test fixtures.

Real CBOE chains live outside the repository, in ``../shared/data/option_chains``
(or ``$FLOORGUARD_SHARED_DIR``). Tests that need them skip, saying why, when
that folder is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_dir() -> Path:
    env = os.environ.get("FLOORGUARD_SHARED_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_chains_dir() -> Path:
    """Folder of the real CBOE delayed-quote CSVs; skips when absent."""
    path = _shared_dir() / "data" / "option_chains"
    if not path.is_dir():
        pytest.skip(f"real CBOE chains not available: {path} is absent")
    return path


@pytest.fixture(scope="session")
def spx_chain_file(shared_chains_dir: Path) -> Path:
    return shared_chains_dir / "spx_2022-02-04.csv"


@pytest.fixture(scope="session")
def spy_chain_file_may(shared_chains_dir: Path) -> Path:
    return shared_chains_dir / "spy_2025-05-01.csv"


@pytest.fixture(scope="session")
def spy_chain_file_sep(shared_chains_dir: Path) -> Path:
    return shared_chains_dir / "spy_2025-09-03.csv"
