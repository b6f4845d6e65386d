"""Startup benchmark: how long `tributary --help` and `tributary validate` take to answer.

    make bench-startup            # never part of `make test`; N=5 by default

Each command runs ``--repeat`` times as a fresh process and the best wall time counts (the
least disturbed by other work on the machine). Beside them, the time of a bare
``python -c "import dagster"``: what every command would pay if the CLI imported Dagster, the
reference the ratio is taken against. The commands must also succeed, or the run fails.
Ends with one line: ``startup: help_s=… validate_s=… import_dagster_s=… ratio=…``
(ratio = the slower of the two commands over the Dagster import).
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def best_wall(cmd: list[str], repeat: int) -> float:
    """The least wall time of ``repeat`` runs of ``cmd`` (each must exit 0)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr}")
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per command; best counts")
    args = parser.parse_args()
    tributary = str(BIN / "tributary")
    contenders = {
        "help": [tributary, "--help"],
        "validate": [tributary, "validate"],
        "import_dagster": [sys.executable, "-c", "import dagster"],
    }
    timings = {name: best_wall(cmd, args.repeat) for name, cmd in contenders.items()}
    for name, cmd in contenders.items():
        print(f"{name:<16} {timings[name]:6.2f} s   {Path(cmd[0]).name} {' '.join(cmd[1:])}")
    ratio = max(timings["help"], timings["validate"]) / timings["import_dagster"]
    print(
        f"startup: help_s={timings['help']:.2f} validate_s={timings['validate']:.2f} "
        f"import_dagster_s={timings['import_dagster']:.2f} ratio={ratio:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
