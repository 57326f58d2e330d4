import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The repository's data folder (a5a ships there), or $MAST_DATA."""
    d = Path(os.environ.get("MAST_DATA", REPO / "data"))
    assert (d / "a5a.gz").exists(), f"a5a.gz not found in {d}"
    return d


@pytest.fixture(scope="session")
def a5a(data_dir):
    import mast

    return mast.load_svmlight_pair(data_dir / "a5a.gz", data_dir / "a5a.t.gz")
