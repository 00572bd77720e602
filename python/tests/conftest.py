"""Loads the generated Python bindings for the tests.

`scripts/test-bindings.sh` generates them (with the library next to them) and points
GRIDWALK_PY_BINDINGS at that folder; run by hand, `scripts/bindings.sh` puts them in
`$CARGO_TARGET_DIR/bindings/python`.
"""

import os
import sys
from pathlib import Path

_default = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/gridwalk/target")) / "bindings/python"
sys.path.insert(0, os.environ.get("GRIDWALK_PY_BINDINGS", str(_default)))
