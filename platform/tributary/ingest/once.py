"""dlt's DuckDB destination, loading each load file exactly once, also when a killed load re-runs.

Why (found by the fault matrix, ``tests/chaos``): dlt moves a load job's file to
``completed_jobs`` only after DuckDB has committed its rows. A load killed in between leaves the
file in ``started_jobs``, the re-run loads it again, and an appended table (an incremental table
without a key) held every row of that file twice. Here a file's INSERT and a row naming the file
commit in one DuckDB transaction, and a file already named is skipped: the kill lands before the
commit (nothing loaded, the file is loaded again) or after it (loaded, skipped).
"""

from typing import Any

from dlt.common.destination.client import LoadJob
from dlt.destinations import duckdb
from dlt.destinations.impl.duckdb.duck import DuckDbClient, DuckDbCopyJob

LOADED_FILES = "_tributary.loaded_files"  # (file: dataset/load id/file name, loaded_at)


class _CopyOnce(DuckDbCopyJob):
    def run(self) -> None:
        client = self._job_client.sql_client
        name = f"{client.dataset_name}/{self._load_id}/{self.file_name()}"
        with client.begin_transaction():
            if client.execute_sql(f"select 1 from {LOADED_FILES} where file = ?", name):
                return  # committed by a run killed before dlt could mark the job done
            super().run()
            client.execute_sql(f"insert into {LOADED_FILES} values (?, now())", name)


class _OnceClient(DuckDbClient):
    def initialize_storage(self, truncate_tables: Any = None) -> None:
        super().initialize_storage(truncate_tables)
        # Here, once per load: created by parallel jobs, DuckDB would see a catalog conflict.
        self.sql_client.execute_sql("create schema if not exists _tributary")
        self.sql_client.execute_sql(
            f"create table if not exists {LOADED_FILES} "
            "(file varchar primary key, loaded_at timestamptz)"
        )

    def create_load_job(
        self, table: Any, file_path: str, load_id: str, restore: bool = False
    ) -> LoadJob:
        job = super().create_load_job(table, file_path, load_id, restore)
        return _CopyOnce(file_path) if type(job) is DuckDbCopyJob else job


class duckdb_once(duckdb):  # noqa: N801 (dlt's destination factories are lower case)
    """dlt's ``duckdb`` destination with exactly-once load files; to dlt it is ``duckdb``."""

    @property
    def client_class(self) -> type[DuckDbClient]:
        return _OnceClient

    @property
    def destination_type(self) -> str:
        return duckdb().destination_type  # pipelines and their state stay dlt's duckdb ones
