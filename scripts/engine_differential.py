"""Long differential run: random Vensim models through PySD and every engine path.

    PYTHONPATH=src python scripts/engine_differential.py --examples 2000

Runs ``tests/engine/test_differential.py`` with fresh random draws and shrinking on (CI runs
a bounded, derandomized set without shrinking). A failure prints the shrunk model: add it
to ``tests/engine/probes/`` (its name says what it covers) before fixing the engine.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=500, help="models to draw (500)")
    args = parser.parse_args(argv)
    if args.examples < 1:
        parser.error("--examples must be a positive number")
    os.environ["URBSIM_DIFFERENTIAL_EXAMPLES"] = str(args.examples)
    os.environ["URBSIM_DIFFERENTIAL_RANDOM"] = "1"
    test = ROOT / "tests" / "engine" / "test_differential.py"
    return int(
        pytest.main([str(test), "-q", "-x", "-p", "no:warnings", "--hypothesis-show-statistics"])
    )


if __name__ == "__main__":
    sys.exit(main())
