"""HTML: chrome is dropped, <pre> is fenced, heading ids are anchors."""

from __future__ import annotations

from .helpers import read_fixture

DOC = read_fixture("html", "page.html")


def test_chrome_is_dropped_and_content_kept() -> None:
    assert DOC.title == "Config"
    assert [(s.headings, s.anchor, s.text) for s in DOC.sections] == [
        (
            ("Configuration",),
            "configuration",
            'Set `DEBUG` to true.\n\n```python\napp = Flask(__name__)\napp.config["DEBUG"] = True\n```',
        ),
        (("Configuration", "Environment"), "env-vars", "- First\n- Second"),
    ]
