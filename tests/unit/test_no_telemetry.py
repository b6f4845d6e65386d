"""Nothing leaves the machine: a load through Tributary's pipeline sends dlt no telemetry."""

import subprocess
import sys

PROBE = """
from tributary.contracts.source import load_specs
from tributary.ingest.pipeline import pipeline_for
from tributary.settings import Settings
settings = Settings.from_env()
spec = next(s for s in load_specs(settings.sources_dir) if s.name == "hr")
pipeline_for(spec, settings).run([{"id": 1}], table_name="probe")
from dlt.common.runtime import anon_tracker
print(anon_tracker._ANON_TRACKER_ENDPOINT)
"""


def test_dlt_telemetry_is_off_unless_the_user_turns_it_on(tmp_path):
    def endpoint(**extra: str) -> str:
        env = {"TRIBUTARY_DATA_DIR": str(tmp_path), "PATH": "", **extra}
        done = subprocess.run(
            [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=300
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[-1]

    assert endpoint() == "None"
    # The user's own choice is kept: the default only applies when nothing is set.
    assert endpoint(RUNTIME__DLTHUB_TELEMETRY="true") != "None"
