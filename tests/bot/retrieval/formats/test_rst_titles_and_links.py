"""Sphinx markup whose text is not written where it is used: tab titles (inline markup in a
directive argument), `:doc:` links (the linked page's title, or words for a page of another
project), and code under list items. Fixtures as Flask's docs write them."""

from __future__ import annotations

from pathlib import Path

from bot.retrieval.documents import read_document


def _read(root: Path, name: str, source: str) -> str:
    file = root / name
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(source, encoding="utf-8")
    return "\n\n".join(s.text for s in read_document(root, file, file.read_bytes()).sections)


def test_a_tab_title_keeps_its_inline_markup_as_markdown(tmp_path: Path) -> None:
    text = _read(
        tmp_path,
        "server.rst",
        "Port in use\n===========\n\n.. tabs::\n\n    .. tab:: ``netstat`` (Linux)\n\n"
        "        .. code-block:: text\n\n            $ netstat -nlp | grep 5000\n\n"
        "    .. tab:: *lsof* (macOS)\n\n        Run ``lsof -P -i :5000``.\n",
    )
    assert text == (
        "**`netstat` (Linux)**\n\n```text\n$ netstat -nlp | grep 5000\n```\n\n"
        "***lsof* (macOS)**\n\nRun `lsof -P -i :5000`."
    )


def test_a_doc_link_shows_the_linked_pages_title(tmp_path: Path) -> None:
    _read(
        tmp_path,
        "deploying/index.rst",
        ".. _deploying:\n\nDeploying to Production\n=======================\n\nText.\n",
    )
    _read(tmp_path, "deploying/proxy_fix.rst", "Tell Flask it is Behind a ``Proxy``\n===\n\nText.\n")
    text = _read(
        tmp_path,
        "deploying/nginx.rst",
        "nginx\n=====\n\nSee :doc:`/deploying/index` first. Then :doc:`proxy_fix` so that the app "
        "uses these headers, or :doc:`the fixer <proxy_fix>`.\n",
    )
    assert text == (
        "See Deploying to Production first. Then Tell Flask it is Behind a Proxy so that the app "
        "uses these headers, or the fixer."
    )


def test_a_link_into_another_projects_docs_shows_words_not_its_target(tmp_path: Path) -> None:
    text = _read(
        tmp_path,
        "proxy.rst",
        "Proxies\n=======\n\nWrap it with the :doc:`werkzeug:middleware/proxy_fix` middleware, see "
        ":doc:`Click's runner <click:testing>` and :ref:`python:tut-modules`. A page that is not "
        "there: :doc:`/patterns/app_factories`.\n",
    )
    assert text == (
        "Wrap it with the proxy fix middleware, see Click's runner and tut modules. "
        "A page that is not there: app factories."
    )


def test_code_under_a_list_item_sits_at_the_margin_as_it_runs(tmp_path: Path) -> None:
    text = _read(
        tmp_path,
        "config.rst",
        "Config\n======\n\n1.  Create the app::\n\n        app = Flask(__name__)\n        if True:\n"
        "            app.run()\n\n    Then run it.\n2.  Done.\n",
    )
    assert text == (
        "1. Create the app:\n```\napp = Flask(__name__)\nif True:\n    app.run()\n```\n   Then run it.\n2. Done."
    )


def test_a_ref_to_a_label_of_the_page_shows_the_sections_title(tmp_path: Path) -> None:
    """`:ref:`tokens`` used to be quoted as the label's words ("tokens"); Sphinx shows the title of
    the section the label is on, wherever on the page it is. A label elsewhere keeps its words."""
    text = _read(
        tmp_path,
        "guide.rst",
        "Guide\n=====\n\nSee :ref:`Tokens` below, :ref:`the portal <tokens>`, :ref:`note-label`\n"
        "and :ref:`other-page`.\n\n.. _note-label:\n\nA paragraph.\n\n"
        ".. _tokens:\n\nBot ``tokens`` and scopes\n------------------------\n\nCreate the token.\n",
    )
    assert text == (
        "See Bot tokens and scopes below, the portal, note label and other page.\n\n"
        "A paragraph.\n\nCreate the token."
    )
