"""Text analysis shared by indexing and querying: English and Korean to index terms.

PROVISIONAL: replaced by the measured analyzer.
"""

from __future__ import annotations

import re
import unicodedata

import Stemmer

ANALYZER_VERSION = "0"
_WORD = re.compile(r"\w+")
_stemmer = Stemmer.Stemmer("english")


def analyze(text: str) -> list[str]:
    words = _WORD.findall(unicodedata.normalize("NFKC", text).lower())
    return _stemmer.stemWords(words)


def analyze_query(text: str) -> list[str]:
    return analyze(text)
