"""kill -9 of the load process inside each stage, then the re-run: nothing lost, nothing doubled.

Each source has a keyed table (merged on its key) and an incremental one without a key
(appended past its cursor, the one a re-run could double). The killed run is a process of its
own (``loader.py``), paused inside the stage and killed there by the test.
"""

import pytest
from harness import count, killed_at, readable, rerun, source_file, total
from rest_zoo import RestZoo

STAGES = ["extract", "normalize", "load", "complete"]
RECORDS = 40

REST = """
client:
  base_url: ${ZOO_URL}
  retries: 0
  paginator: {type: page_number, base_page: 1, total_path: meta.total_pages}
resources:
  - name: items
    primary_key: id
    endpoint: {path: pages, data_selector: data, params: {page_size: 5}}
  - name: events
    endpoint:
      path: pages
      data_selector: data
      params: {page_size: 5}
      incremental:
        start_param: updated_since
        cursor_path: updated_at
        initial_value: "2024-01-01T00:00:00Z"
"""


@pytest.mark.parametrize("stage", STAGES)
def test_rest_source_killed_in_each_stage(stage, tmp_path, settings, survived):
    spec = source_file(tmp_path, "zoo", "rest_api", REST)
    with RestZoo(RECORDS) as zoo:
        killed_at(stage, spec, settings, zoo.env, after=3)
        rerun(spec, settings, zoo.env)
        rerun(spec, settings, zoo.env)  # and the next scheduled run
    expected = set(range(1, RECORDS + 1))
    counts = [count(settings.warehouse, f"raw_zoo.{t}", expected) for t in ("items", "events")]
    assert {"raw_zoo.items", "raw_zoo.events"} <= set(readable(settings.warehouse))
    survived(f"kill -9 in {stage}: REST", total(counts))
