"""The project's own speed-and-scale benchmark (``make bench``; not part of the test suite).

Each part is one module of ``src/descent/perf/parts/`` (its options, its run, its table rows, its
targets), found by the driver :mod:`descent.perf.driver`; see docs/benchmark.md.

Usage: ``python bench/run.py [--quick] [--only PART ...] [--out results/perf] [--rows 10000000]
[--threads N]`` (``--help`` lists every part's options).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from descent.perf.driver import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
