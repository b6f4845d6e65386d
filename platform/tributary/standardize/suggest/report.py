"""What `tributary map suggest` prints: each table's entity (or the new one proposed), one line
per suggestion with its confidence, why and options, then the columns that stay unmapped with
their best (too weak) guesses."""

from tributary.standardize.suggest.mapping_edit import flow
from tributary.standardize.suggest.scoring import Suggestion
from tributary.standardize.suggest.source import SourceSuggestions
from tributary.standardize.suggest.table import TableSuggestion


def _target(s: Suggestion) -> str:
    return (
        f"{s.table}.updated_at (last change)"
        if s.field == "updated_at"
        else f"{s.entity}.{s.field}"
    )


def _proposal_line(t: TableSuggestion) -> str:
    """`lkp_unit → new entity unit  (why: no entity fits: …)  fields unit_id (integer, key), …`"""
    proposal = t.proposal or {}
    keys = proposal.get("key")
    fields = ", ".join(
        f"{name} ({f['type']}{', key' if name == keys else ''})"
        for name, f in proposal.get("fields", {}).items()
    )
    return f"{t.table} → new entity {t.entity}  (why: {t.entity_why})  fields {fields}"


def report_lines(result: SourceSuggestions, min_confidence: float) -> list[str]:
    """What `tributary map suggest` prints: one line per suggestion, then what stays unmapped.

    ``employees.hireDate → employee.hire_date  confidence 0.99  (why: name hire_date; 100%
    parse as %d/%m/%Y)  options {formats: ['%d/%m/%Y']}``
    """
    lines = [
        f"{result.spec.dataset}.{name}: not loaded yet, skipped (materialize it first)"
        for name in result.not_loaded
    ]
    unmapped = []
    for t in result.tables:
        if t.proposal is not None:
            lines.append(_proposal_line(t))
            continue
        if t.entity_is_new:
            lines.append(
                f"{t.table} → entity {t.entity}  confidence {t.entity_confidence:.2f}  "
                f"(why: {t.entity_why})"
            )
        weak = []
        for s in [*t.fields, *([t.updated_at] if t.updated_at else [])]:
            if s.confidence < min_confidence:
                weak.append((s.column, s))
                continue
            options = f"  options {flow(s.options)}" if s.options else ""
            problem = f"  — not accepted: {s.problem}" if s.problem else ""
            lines.append(
                f"{t.table}.{s.column} → {_target(s)}  confidence {s.confidence:.2f}  "
                f"(why: {s.why}){options}{problem}"
            )
        for column, guess in [*weak, *t.unmapped]:
            hint = ""
            if guess is not None and guess.confidence >= 0.2:
                hint = f" (best guess {_target(guess)} {guess.confidence:.2f})"
            unmapped.append(f"{t.table}.{column}{hint}")
    summary = f"{len(unmapped)} column(s) stay unmapped"
    if unmapped:
        summary += f" (nothing at or above {min_confidence:.2f}): " + ", ".join(unmapped)
    mapped = sum(len(t.mapped) for t in result.tables)
    if mapped:
        summary += f"; {mapped} mapped already"
    return [*lines, summary]
