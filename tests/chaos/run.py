"""`make chaos`: the fault matrix, the secrets grep and the hostile-declaration corpus, summed up
in one line a script can read (the last line printed):

    chaos: faults=<tried> survived=<n> lost=<rows> doubled=<rows> bad_inputs=<tried> clear=<n>
    tracebacks=<n> leaked=<hits>

The fault cases and the secrets grep are the pytest cases under tests/chaos (each records its
counts as junit properties, see conftest.py); the corpus is ``run_corpus()`` of
tests/unit/test_hostile_corpus.py. Exits 0 only when every fault survived, every bad input got
its clear message, and nothing was lost, doubled, leaked or raised as a traceback.
"""

import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
SECRETS_CASE = "test_no_secret_in_logs_state_warehouse_or_snapshot"


def matrix() -> dict[str, int]:
    """Run tests/chaos under pytest; the fault counts and the secrets hits from its junit XML."""
    with tempfile.TemporaryDirectory(prefix="tributary-chaos-") as folder:
        report = Path(folder) / "chaos.xml"
        subprocess.run(
            [sys.executable, "-m", "pytest", str(HERE), "-q", "-p", "no:cacheprovider",
             "-o", "junit_family=xunit1", f"--junitxml={report}"],
            check=False,
        )  # fmt: skip
        cases = ET.parse(report).getroot().iter("testcase")
        found = {"faults": 0, "survived": 0, "lost": 0, "doubled": 0, "leaked": 0}
        for case in cases:
            props = {p.get("name"): int(p.get("value")) for p in case.iter("property")
                     if p.get("name") != "fault"}  # fmt: skip
            passed = case.find("failure") is None and case.find("error") is None
            if case.find("skipped") is not None:
                passed = False  # a fault not tried is not survived
            if case.get("name") == SECRETS_CASE:
                found["leaked"] = props.get("leaked", 0 if passed else 1)
                continue
            found["faults"] += 1
            found["survived"] += passed
            found["lost"] += props.get("lost", 0)
            found["doubled"] += props.get("doubled", 0)
    return found


def corpus() -> tuple[int, int, int]:
    sys.path.insert(0, str(HERE.parent / "unit"))
    try:
        from test_hostile_corpus import run_corpus
    except ImportError as exc:
        raise SystemExit(
            f"chaos: FAILED: tests/unit/test_hostile_corpus.py has no run_corpus() ({exc}); "
            "the hostile-declaration corpus (issue 19) must be merged first"
        ) from None
    return run_corpus()


def main() -> int:
    faults = matrix()
    tried, clear, tracebacks = corpus()
    print(
        f"chaos: faults={faults['faults']} survived={faults['survived']} lost={faults['lost']} "
        f"doubled={faults['doubled']} bad_inputs={tried} clear={clear} tracebacks={tracebacks} "
        f"leaked={faults['leaked']}"
    )
    good = faults["survived"] == faults["faults"] > 0 and clear == tried > 0
    clean = not (faults["lost"] or faults["doubled"] or tracebacks or faults["leaked"])
    return 0 if good and clean else 1


if __name__ == "__main__":
    sys.exit(main())
