"""Every file format a user writes, as pydantic models with file:line errors.

Layers import from here and never from each other: a source file (``source`` and one module
per source kind's section), the data dictionary, the mappings, the quality rules, and the
mappings resolved against the dictionary (``resolved``). ``specfile`` holds the machinery
that turns a mistake into file, line and fix.
"""
