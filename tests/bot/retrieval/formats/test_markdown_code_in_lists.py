"""Code as it runs: a fenced block under a list item (as Pydantic's MkDocs pages nest them)
sits at the margin without the item's indentation, and an indented excerpt loses the
indentation all its lines share, so a quoted or pasted block is valid Python."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from bot.retrieval.documents import read_document


def _read(tmp_path: Path, source: str) -> str:
    file = tmp_path / "dataclasses.md"
    file.write_text(source, encoding="utf-8")
    return "\n\n".join(s.text for s in read_document(tmp_path, file, file.read_bytes()).sections)


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"(?ms)^```python\n(.*?)^```$", text)


def test_code_under_a_list_item_sits_at_the_margin_and_parses(tmp_path: Path) -> None:
    text = _read(
        tmp_path,
        "# Dataclasses\n\nSome differences include:\n\n"
        "- The various methods aren't available. Instead,\n"
        "  you can wrap the dataclass with a `TypeAdapter`:\n\n"
        "  ```python\n  from pydantic import TypeAdapter\n\n\n  @dataclass\n  class Foo:\n      f: int\n  ```\n\n"
        "  It validates.\n"
        "- Validators.\n"
        "    1. Nested:\n\n"
        "        ```python\n        if True:\n            x = 1\n        ```\n",
    )
    assert text == (
        "Some differences include:\n\n"
        "- The various methods aren't available. Instead,\n"
        "  you can wrap the dataclass with a `TypeAdapter`:\n\n"
        "```python\nfrom pydantic import TypeAdapter\n\n\n@dataclass\nclass Foo:\n    f: int\n```\n\n"
        "  It validates.\n\n"
        "- Validators.\n\n"
        "  1. Nested:\n\n"
        "```python\nif True:\n    x = 1\n```"
    )
    for code in _python_blocks(text):
        ast.parse(code)


def test_an_item_that_begins_with_code_keeps_its_marker_on_a_line_of_its_own(tmp_path: Path) -> None:
    text = _read(tmp_path, "1. ```python\n   import sys\n   ```\n2. Then run it.\n")
    assert text == "1.\n```python\nimport sys\n```\n2. Then run it."


def test_an_excerpt_indented_as_a_whole_loses_the_shared_indentation(tmp_path: Path) -> None:
    text = _read(
        tmp_path,
        "A method of the model:\n\n```python\n    @field_validator('x')\n    @classmethod\n"
        "    def check(cls, v: int) -> int:\n        return v\n```\n",
    )
    assert text == (
        "A method of the model:\n\n```python\n@field_validator('x')\n@classmethod\n"
        "def check(cls, v: int) -> int:\n    return v\n```"
    )
    ast.parse(_python_blocks(text)[0])
