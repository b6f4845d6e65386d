"""Duplicates, outliers and volumes: warning checks that profile the data rather than test
rules, and the ``quality/profile_history`` asset they keep their memory in (``history.py``).

- On each conformed entity (``intermediate.int_<entity>__conformed``): ``exact_duplicates``
  and ``near_duplicates`` on the dictionary's ``identify_by`` fields (see ``duplicates.py``),
  ``numeric_outliers`` row by row and ``distribution_shift`` against the history of its numeric
  fields (see ``distribution.py``).
- On each staging model: ``duplicates_merged``, the records delivered more than once that the
  conformed model merges (metadata for reconciliation; it never fails).
- On each raw table: ``volume``, a load with far fewer rows than usual (see ``volume.py``).

Every check reads the working warehouse read-only through the ``warehouse`` resource; only the
``quality/profile_history`` asset writes. All of them warn, never block: a duplicate or an
outlier is for a person to look at, not a reason to hold the analysts' snapshot back.
"""

import dagster as dg

from tributary.contracts.resolved import load_mappings_for
from tributary.contracts.source import load_specs
from tributary.quality.monitors.distribution_checks import outlier_check, shift_check
from tributary.quality.monitors.duplicate_checks import exact_check, merged_check, near_check
from tributary.quality.monitors.targets import profiling_targets
from tributary.quality.monitors.volume_checks import volume_checks
from tributary.settings import Settings


def build_monitor_checks(settings: Settings) -> list[dg.AssetChecksDefinition]:
    """Duplicate, outlier and shift checks on each conformed entity, a re-delivery count on
    each staging model, and a volume check on each raw table."""
    dictionary, mappings = load_mappings_for(settings)
    targets = profiling_targets(dictionary, mappings)
    checks = []
    for target in targets:
        identity = target.identity
        if identity is not None:
            checks.append(exact_check(target))
        if identity is not None and identity.name_field:
            checks.append(near_check(target))
        if target.numeric_fields:
            checks += [outlier_check(target), shift_check(target)]
    checks += [merged_check(model) for t in targets for model in t.staging_models]
    specs = load_specs(settings.sources_dir)
    return checks + [volume_checks(spec.dataset, spec.table_names()) for spec in specs]
