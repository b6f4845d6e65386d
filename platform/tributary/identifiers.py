"""SQL identifiers as text: the one place a name from a declaration or a source becomes SQL.

Free of Dagster and of any layer, so the commands that start without them (`tributary validate`,
`discover`) and every layer may use it.
"""


def ident(name: str) -> str:
    """A DuckDB identifier as SQL, always quoted (reserved words, spaces, quotes, any script):
    every name that reaches warehouse SQL goes through here, never pasted into the text."""
    return '"' + name.replace('"', '""') + '"'
