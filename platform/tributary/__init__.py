"""Tributary: sources declared in YAML, standardized, checked, mined and served (README.md)."""

import os

# Nothing leaves the machine: dlt reports every pipeline step to its telemetry server unless
# told not to, and it reads that once, the first time any dlt code starts its runtime (a source
# being built is enough). Set before any of it; a user's own setting wins.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
