"""Database URLs as users copy them (``postgresql://``, ``postgres://``, ``mysql://``,
``mariadb://``, ``sqlite:///``), given the driver the project installs.

SQLAlchemy reads a plain ``postgresql://`` as psycopg and ``mysql://`` as MySQLdb, neither of
which is installed, and does not know ``postgres://`` at all. The project installs psycopg2 and
PyMySQL (pyproject.toml); a URL naming its own driver is kept as it is.
"""

# Dialect as written -> (dialect SQLAlchemy knows, the driver installed for it).
_DRIVERS = {
    "postgresql": ("postgresql", "psycopg2"),
    "postgres": ("postgresql", "psycopg2"),
    "mysql": ("mysql", "pymysql"),
    "mariadb": ("mariadb", "pymysql"),
}


def database_url(url: str) -> str:
    """The URL with the installed driver where it names none; any other URL unchanged."""
    scheme, separator, rest = url.partition("://")
    dialect, plus, driver = scheme.partition("+")
    known = _DRIVERS.get(dialect.lower()) if separator else None
    if known is None:
        return url
    return f"{known[0]}+{driver if plus else known[1]}://{rest}"
