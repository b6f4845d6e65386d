"""The commands that need no orchestration start without loading it.

`tributary validate` once took 31 s on a busy machine: the CLI imported Dagster (and through
the source kinds, its sensors) for commands that never run anything. bench/startup.py times
them; this holds the behaviour: which modules such a command loads.
"""

import json
import subprocess
import sys

HEAVY = ["dagster", "dagster_dbt", "dagster_dlt", "dbt", "sklearn"]

PROBE = f"""
import contextlib, io, json, sys
from tributary.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        main(["--help"])
    except SystemExit:
        pass
    codes = [main(["validate"]), main(["schema", "--check"]), main(["generate", "--check"])]
    # map suggest and discover stop early here (no warehouse, no patterns): their modules load
    codes += [main(["map", "suggest", "hr"]), main(["discover", "erp"])]
print(json.dumps({{"codes": codes, "loaded": sorted({{m.split(".")[0] for m in sys.modules}}
                   & set({HEAVY!r}))}}))
"""


def test_commands_without_runs_never_import_dagster_dbt_or_sklearn(tmp_path):
    env = {"TRIBUTARY_DATA_DIR": str(tmp_path), "PATH": ""}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["codes"][:3] == [0, 0, 0]  # validate, schema --check, generate --check pass
    assert found["codes"][3:] == [1, 1]  # the two that had nothing to work on said so
    assert found["loaded"] == []
