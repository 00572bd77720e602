"""Loads the generated Python bindings for the tests, and the `store` fixture they share.

`scripts/test-bindings.sh` generates them (with the library next to them) and points
GRIDWALK_PY_BINDINGS at that folder; run by hand, `scripts/bindings.sh` puts them in
`$CARGO_TARGET_DIR/bindings/python`.
"""

import os
import sys
from pathlib import Path

import pytest

_default = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/gridwalk/target")) / "bindings/python"
sys.path.insert(0, os.environ.get("GRIDWALK_PY_BINDINGS", str(_default)))

import gridwalk_ffi as gw  # noqa: E402 (after the path is set)

GRID = "640323001001001"
COMMUNITY = "640323001001"


@pytest.fixture
def store(tmp_path: Path):
    """A store on disk with the demo org tree: 幸福社区 and its grid, the worker's own."""
    s = gw.GridwalkStore.open(str(tmp_path / "work.db"))
    s.upsert_org_units(
        [
            gw.OrgUnit(code=COMMUNITY, name="幸福社区", level=gw.GridLevel.COMMUNITY),
            gw.OrgUnit(code=GRID, name="幸福社区第1网格", level=gw.GridLevel.GRID, parent_code=COMMUNITY, is_mine=True),
        ]
    )
    yield s
    s.close_store()
