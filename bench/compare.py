"""Scanner speed of this checkout against others, in the same run. Prints figures, asserts nothing.

  python bench/compare.py BASELINE_DIR [OTHER_DIR ...] [--corpus DIR] [--rounds 2]

Each checkout (the first is the baseline; this one is added last) scans every
message of the corpus (default ../shared/corpus/dev) in its own interpreter,
one core, interpreter start excluded: once to warm up, then five passes. The
checkouts take turns, ``--rounds`` times, so a busy machine slows them alike.
Printed per checkout: the median over rounds of the per-message median and of
the whole pass, and each as a ratio to the baseline. A checkout is any
directory holding ``gateway/`` and ``config/gateway.toml``, such as a
``git worktree add /tmp/old REV``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_MEASURE = r"""
import statistics, sys, time
from pathlib import Path
root, corpus = sys.argv[1], sys.argv[2]
sys.path.insert(0, root)
from gateway.config import load_config
from gateway.judge.scan import Scanner
scanner = Scanner(load_config(Path(root) / "config" / "gateway.toml"))
raws = [f.read_bytes() for f in sorted(Path(corpus).rglob("*.eml"))]
for raw in raws:
    scanner.scan(raw)
medians, passes = [], []
for _ in range(5):
    times = []
    for raw in raws:
        t = time.perf_counter()
        scanner.scan(raw)
        times.append(time.perf_counter() - t)
    medians.append(statistics.median(times))
    passes.append(sum(times))
print(len(raws), statistics.median(medians), statistics.median(passes))
"""


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("checkouts", nargs="+", type=Path)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "dev")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    checkouts = [p.resolve() for p in args.checkouts]
    if ROOT not in checkouts:
        checkouts.append(ROOT)
    runs: dict[Path, list[tuple[float, float]]] = {c: [] for c in checkouts}
    count = 0
    for _ in range(args.rounds):
        for checkout in checkouts:
            done = subprocess.run(
                [sys.executable, "-c", _MEASURE, str(checkout), str(args.corpus)],
                capture_output=True,
                text=True,
                cwd=checkout,
                check=False,
            )
            if done.returncode:
                print(f"{checkout}: failed\n{done.stderr}", file=sys.stderr)
                return 1
            n, median, total = done.stdout.split()
            count = int(n)
            runs[checkout].append((float(median), float(total)))
    base_median = statistics.median(m for m, _ in runs[checkouts[0]])
    base_pass = statistics.median(t for _, t in runs[checkouts[0]])
    print(f"{count} messages, {args.rounds} rounds, baseline {checkouts[0]}")
    for checkout, figures in runs.items():
        median = statistics.median(m for m, _ in figures)
        total = statistics.median(t for _, t in figures)
        print(
            f"  {checkout}: per-message median {median * 1000:.3f} ms ({median / base_median:.2f}x), "
            f"pass {total * 1000:.0f} ms ({total / base_pass:.2f}x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
