"""The stand-in systems on disk and on loopback, with a clock that advances."""

import json
import os
import secrets
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from demo_enterprise.erp import write_erp
from demo_enterprise.finance import write_finance
from demo_enterprise.servers import LOOPBACK, CRMServer, HRServer
from demo_enterprise.simulation import Enterprise, Truth, simulate


class DemoEnterprise:
    """The stand-in systems on disk and on loopback, with a clock that advances.

    `data_dir/state.json` holds (seed, scale, day) and is the clock: another DemoEnterprise on
    the same folder, in this process or another, continues from it, and running servers
    pick up an advance made elsewhere on their next request.
    """

    _CACHED_DAYS = 2

    def __init__(self, data_dir: Path, seed: int = 7, scale: float = 1.0) -> None:
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        self.data_dir = Path(data_dir).resolve()
        self.seed = seed
        self.scale = scale
        self._state_path = self.data_dir / "state.json"
        self._state_version: tuple[int, int] | None = None
        self._day = 0
        self._cache: dict[int, Enterprise] = {}
        self._lock = threading.RLock()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._state_path.exists():
            self._refresh()
        else:
            self._save(0)

    @property
    def erp_path(self) -> Path:
        return self.data_dir / "erp.sqlite"

    @property
    def erp_url(self) -> str:
        return f"sqlite:///{self.erp_path}"

    @property
    def finance_dir(self) -> Path:
        return self.data_dir / "finance"

    @property
    def day(self) -> int:
        with self._lock:
            self._refresh()
            return self._day

    def enterprise(self) -> Enterprise:
        """The enterprise at the current day (re-read from state.json when it changed)."""
        with self._lock:
            return self._at(self.day)

    def truth(self) -> Truth:
        return self.enterprise().truth

    def materialize(self) -> None:
        """Write the ERP SQLite file and any missing finance exports for the current day."""
        with self._lock:
            self._write(self.enterprise())

    def advance(self, days: int = 1) -> int:
        """Move the clock `days` forward, write that day's systems, and return the new day.

        Files are written before state.json moves, so whoever sees the new day also finds
        its ERP and exports in place.
        """
        if days < 0:
            raise ValueError(f"the clock only moves forward, got days={days}")
        with self._lock:
            day = self.day + days
            self._write(self._at(day))
            self._save(day)
            return day

    @contextmanager
    def serve(
        self,
        hr_port: int = 0,
        crm_port: int = 0,
        token_ttl: int = 300,
        rate_limit: int = 20,
        host: str = LOOPBACK,
    ) -> Iterator[dict[str, str]]:
        """Run HR and CRM with fresh credentials, on loopback unless another ``host`` is given
        (the address to bind); yield a client's environment."""
        self.materialize()
        client_id = f"tributary-{secrets.token_urlsafe(8)}"
        client_secret = secrets.token_urlsafe(32)
        api_key = secrets.token_urlsafe(32)
        with (
            HRServer(self.enterprise, client_id, client_secret, hr_port, token_ttl, host) as hr,
            CRMServer(self.enterprise, api_key, crm_port, rate_limit, host) as crm,
        ):
            yield {
                "HR_BASE_URL": hr.url,
                "HR_CLIENT_ID": client_id,
                "HR_CLIENT_SECRET": client_secret,
                "CRM_BASE_URL": crm.url,
                "CRM_API_KEY": api_key,
                "ERP_URL": self.erp_url,
                "FINANCE_EXPORT_DIR": str(self.finance_dir),
            }

    def _at(self, day: int) -> Enterprise:
        if day not in self._cache:
            while len(self._cache) >= self._CACHED_DAYS:
                del self._cache[min(self._cache)]
            self._cache[day] = simulate(self.seed, self.scale, day)
        return self._cache[day]

    def _write(self, enterprise: Enterprise) -> None:
        write_erp(self.erp_url, enterprise)
        write_finance(self.finance_dir, enterprise.finance_files)

    def _refresh(self) -> None:
        """Re-read state.json if it was replaced since we last looked (one stat call)."""
        status = self._state_path.stat()
        version = (status.st_ino, status.st_mtime_ns)
        if version == self._state_version:
            return
        state = json.loads(self._state_path.read_text(encoding="utf-8"))
        if (state["seed"], state["scale"]) != (self.seed, self.scale):
            raise ValueError(
                f"{self.data_dir} holds seed={state['seed']}, scale={state['scale']}; "
                f"asked for seed={self.seed}, scale={self.scale}: use another folder"
            )
        self._day = int(state["day"])
        self._state_version = version

    def _save(self, day: int) -> None:
        """Replace state.json atomically, so a concurrent reader sees the old or the new."""
        state = {"seed": self.seed, "scale": self.scale, "day": day}
        handle, temporary = tempfile.mkstemp(dir=self.data_dir, prefix=".state.", suffix=".tmp")
        try:
            with open(handle, "w", encoding="utf-8") as out:
                json.dump(state, out)
            os.replace(temporary, self._state_path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self._day = day
        status = self._state_path.stat()
        self._state_version = (status.st_ino, status.st_mtime_ns)
