"""Mapping suggestions (``tributary map suggest <source>``): which raw column feeds which field
of the data dictionary, guessed from names, synonyms, types and what the values look like.

Each (column, canonical field) pair gets two kinds of evidence:

* **name** (``names``) — the column's name against the field's name and synonyms, after
  normalizing both (``staffID`` → ``staff_id``, units such as ``(USD)`` or ``_cny`` set aside,
  common abbreviations expanded). Exact name or synonym is strong; shared words or a close
  spelling are weaker. Chinese headers are compared with Chinese synonyms character by
  character, and word by word with English names through a small glossary (``客户编号`` →
  customer, no).
* **values** (``profiles``, ``values``) — a profile of the column in the warehouse: its DuckDB
  type and the share of its values that parse as dates (in which formats), ISO timestamps,
  e-mails, phones, money text, ids, or the codes a code field accepts. How well that fits the
  field's type is one number; how *distinctive* the fit is (a column of ``M``/``F``/``男``/``女``
  can only be a gender) decides how far values alone can carry a suggestion whose name says
  nothing.

They combine into a confidence in [0, 1] (``scoring``): what the name says, discounted when the
values do not fit (``name × (0.4 + 0.6 × fit)``), and what the values alone say
(``fit × specificity``), taken as independent evidence (``1 − (1 − a)(1 − b)``). A table's
entity (``entities``) is the existing mapping's, the one its name names (prefixes off, plurals
singular, the dictionary's entity synonyms), or the one its columns fit — a column for its key
and two other fields; otherwise no entity fits and a new one is proposed (``proposals``: a
dictionary patch to review). Each canonical field takes at most one column, greedily by
confidence, none surer than the table's entity; a first and a last name make the full name and
a currency column gives money its currency (``derived``). Everything there is a plain function
of profiles and the dictionary (``table`` puts it together), so it is tested without a
warehouse; ``source`` does the reading, ``report`` the printing, ``accept`` the writing (text
edits: ``mapping_edit``).
"""
