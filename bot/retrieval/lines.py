"""How a line of chunk text reads: a code fence, a table row (or the rule under a header), a
list item, or else prose.

One reading for both sides of a chunk: bot/retrieval/chunking.py cuts a long table or list
between these lines (and a code block never), and bot/answering/units.py quotes by them. Read
differently, a piece the chunker takes for a row would reach the answerer as a sentence.
"""

from __future__ import annotations

import re

FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
LIST_ITEM = re.compile(r"^\s*([-*+]|\d+[.)])\s+")
TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$|^[^|\n]+(?: \| [^|\n]+)+$")
TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}")
