"""Regular expressions compiled on first use, for modules every command imports.

Compiling a large pattern (a Unicode class under IGNORECASE, a long alternation) takes a
millisecond or more, paid at import by every command, `supportbot ask` included, whether or
not it ever matches anything. `lazy_pattern` keeps the pattern where it is read and compiles
it the first time it is asked for; after that each use costs one cached call.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache


def lazy_pattern(pattern: str, flags: int = 0) -> Callable[[], re.Pattern[str]]:
    """A function returning `re.compile(pattern, flags)`, compiled on its first call only."""

    @cache
    def compiled() -> re.Pattern[str]:
        return re.compile(pattern, flags)

    return compiled
