"""The contract suite's setup: the example plugin (examples/noticeboard) is a module of no
package, so it goes on sys.path here, as if its distribution were installed."""

from __future__ import annotations

import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "noticeboard"
if str(EXAMPLE) not in sys.path:
    sys.path.insert(0, str(EXAMPLE))
