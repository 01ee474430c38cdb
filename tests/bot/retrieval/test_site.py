"""Published page URLs and heading anchors for MkDocs, Sphinx, Docusaurus and plain folders.

The expected slugs were produced by the real tools and written here literally:
Python-Markdown 3.11.3 (`markdown.markdown(src, extensions=["toc"])`), Sphinx 9.0.4 with
docutils 0.22.4 (`sphinx-build -b html`), and github-slugger 2.0.0 under Node 20.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.retrieval.knowledge import KnowledgeBase
from bot.retrieval.site import Generator, Route, Site, anchored, page_url, slug_style
from bot.retrieval.site_config import detect_site
from bot.retrieval.slugs import (
    Slugger,
    SlugStyle,
    TocFunction,
    TocSlugify,
    github_slug,
    heading_ids,
    python_markdown_slug,
)
from bot.types import DocVisibility
from tests.conftest import write_docs

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "site"


# -- detection --------------------------------------------------------------------------------


def test_mkdocs_config_with_python_env_and_relative_tags_is_read_without_running_anything() -> None:
    site = detect_site(FIXTURES / "mkdocs" / "docs")
    assert site.generator is Generator.MKDOCS
    # `!ENV [SITE_URL, default]` is read as its written default
    assert site.base_url == "https://docs.acme.test/"
    assert site.use_directory_urls is True
    assert (site.docs_dir, site.mount) == ("", "")
    assert site.config_file == FIXTURES / "mkdocs" / "mkdocs.yml"


def test_mkdocs_config_in_the_knowledge_folder_itself_points_at_its_docs_dir(tmp_path: Path) -> None:
    (tmp_path / "mkdocs.yml").write_text(
        "site_url: https://x.test/\ndocs_dir: content\nuse_directory_urls: false\n", encoding="utf-8"
    )
    site = detect_site(tmp_path)
    assert (site.generator, site.docs_dir, site.use_directory_urls) == (Generator.MKDOCS, "content", False)
    assert page_url(site, "content/a/b.md") == "https://x.test/a/b.html"
    assert page_url(site, "README.md") is None  # outside docs_dir: not published


def test_unsafe_yaml_is_never_constructed(tmp_path: Path) -> None:
    (tmp_path / "mkdocs.yml").write_text(
        'site_url: https://x.test/\nhooks: !!python/object/apply:os.system ["touch pwned"]\n',
        encoding="utf-8",
    )
    site = detect_site(tmp_path / "docs")
    assert site.base_url == "https://x.test/"
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_sphinx_conf_py_is_parsed_not_executed() -> None:
    # the fixture calls sys.exit() at import time: reaching the asserts proves it was not run
    site = detect_site(FIXTURES / "sphinx" / "docs")
    assert site.generator is Generator.SPHINX
    assert site.base_url == "https://acme.readthedocs.test/en/latest/"
    assert site.link_suffix == ".html"


def test_sphinx_separate_source_layout_and_conf_py_one_level_up(tmp_path: Path) -> None:
    (tmp_path / "source").mkdir()
    (tmp_path / "source" / "conf.py").write_text('html_baseurl = "https://d.test/"\n', encoding="utf-8")
    site = detect_site(tmp_path)
    assert (site.generator, site.docs_dir) == (Generator.SPHINX, "source")
    assert page_url(site, "source/guide/install.rst") == "https://d.test/guide/install.html"

    (tmp_path / "conf.py").write_text("html_baseurl: str = 'https://root.test'\n", encoding="utf-8")
    sub = detect_site(tmp_path / "user")
    assert (sub.generator, sub.mount) == (Generator.SPHINX, "user")
    assert page_url(sub, "faq.rst") == "https://root.test/user/faq.html"


def test_sphinx_computed_baseurl_is_unknown(tmp_path: Path) -> None:
    (tmp_path / "conf.py").write_text(
        "import os\nhtml_baseurl = 'https://old.test/'\nhtml_baseurl = os.environ['READTHEDOCS_CANONICAL_URL']\n",
        encoding="utf-8",
    )
    site = detect_site(tmp_path)
    assert (site.generator, site.base_url) == (Generator.SPHINX, None)
    assert page_url(site, "index.rst") is None


def test_docusaurus_js_config_url_base_url_route_and_trailing_slash() -> None:
    site = detect_site(FIXTURES / "docusaurus-js" / "docs")
    assert site.generator is Generator.DOCUSAURUS
    # the commented-out url and the blog's routeBasePath are not taken
    assert site.base_url == "https://acme.test/product/guide/"
    assert site.trailing_slash is False
    assert page_url(site, "intro.md") == "https://acme.test/product/guide/intro"


def test_docusaurus_ts_config_with_quoted_keys_and_default_route() -> None:
    site = detect_site(FIXTURES / "docusaurus-ts" / "website" / "docs")
    assert site.generator is Generator.DOCUSAURUS
    assert site.base_url == "https://acme.dev/docs/"
    assert site.trailing_slash is None


def test_docusaurus_mjs_at_the_repo_root_seen_from_the_root(tmp_path: Path) -> None:
    (tmp_path / "docusaurus.config.mjs").write_text(
        "export default {\n  url: `https://m.test`,\n  baseUrl: '/',\n"
        "  presets: [['classic', {docs: {routeBasePath: '/'}}]],\n};\n",
        encoding="utf-8",
    )
    site = detect_site(tmp_path)
    assert (site.base_url, site.docs_dir) == ("https://m.test/", "docs")
    assert page_url(site, "docs/setup/01-install.md") == "https://m.test/setup/install"
    assert page_url(site, "src/pages/about.md") is None


def test_explicit_base_url_wins_but_the_generator_rules_stay() -> None:
    site = detect_site(FIXTURES / "mkdocs" / "docs", base_url="https://mirror.test/acme")
    assert (site.generator, site.base_url) == (Generator.MKDOCS, "https://mirror.test/acme")
    assert page_url(site, "a/b.md") == "https://mirror.test/acme/a/b/"


def test_no_config_is_plain_with_or_without_a_base_url(tmp_path: Path) -> None:
    folder = tmp_path / "knowledge"
    folder.mkdir()
    assert detect_site(folder) == Site(generator=Generator.PLAIN, base_url=None)
    assert detect_site(folder, base_url="  ") == Site(generator=Generator.PLAIN, base_url=None)
    site = detect_site(folder, base_url="https://kb.test/")
    assert site == Site(generator=Generator.PLAIN, base_url="https://kb.test/")


def test_a_config_for_another_folder_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "mkdocs.yml").write_text("site_url: https://x.test/\n", encoding="utf-8")  # docs_dir: docs
    assert detect_site(tmp_path / "handbook").generator is Generator.PLAIN


# -- page URLs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "directory_urls", "flat"),
    [
        ("a/b.md", "https://d.test/a/b/", "https://d.test/a/b.html"),
        ("a/index.md", "https://d.test/a/", "https://d.test/a/index.html"),
        ("a/README.md", "https://d.test/a/", "https://d.test/a/index.html"),
        ("index.md", "https://d.test/", "https://d.test/index.html"),
        ("guide.markdown", "https://d.test/guide/", "https://d.test/guide.html"),
        ("img/chart.png", "https://d.test/img/chart.png", "https://d.test/img/chart.png"),
        (
            "My Notes/설치.md",
            "https://d.test/My%20Notes/%EC%84%A4%EC%B9%98/",
            "https://d.test/My%20Notes/%EC%84%A4%EC%B9%98.html",
        ),
    ],
)
def test_mkdocs_urls(path: str, directory_urls: str, flat: str) -> None:
    pretty = Site(generator=Generator.MKDOCS, base_url="https://d.test")
    plain = Site(generator=Generator.MKDOCS, base_url="https://d.test/", use_directory_urls=False)
    assert page_url(pretty, path) == directory_urls
    assert page_url(plain, path) == flat


def test_sphinx_urls() -> None:
    site = Site(generator=Generator.SPHINX, base_url="https://d.test/en/latest/")
    assert page_url(site, "a/b.rst") == "https://d.test/en/latest/a/b.html"
    assert page_url(site, "index.rst") == "https://d.test/en/latest/index.html"
    assert page_url(site, "api/usage.md") == "https://d.test/en/latest/api/usage.html"  # MyST
    assert page_url(site, "_static/logo.png") is None
    dirhtml_suffix = Site(generator=Generator.SPHINX, base_url="https://d.test", link_suffix="")
    assert page_url(dirhtml_suffix, "a/b.rst") == "https://d.test/a/b"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a/b.md", "https://d.test/docs/a/b"),
        ("a/b.mdx", "https://d.test/docs/a/b"),
        ("a/index.md", "https://d.test/docs/a/"),
        ("a/README.mdx", "https://d.test/docs/a/"),
        ("guides/guides.md", "https://d.test/docs/guides/"),  # named like its folder
        ("index.md", "https://d.test/docs/"),
        ("01-intro.md", "https://d.test/docs/intro"),
        ("02-guides/003 - Setup.md", "https://d.test/docs/guides/Setup"),
        ("2021-05-10-release.md", "https://d.test/docs/2021-05-10-release"),  # date-like: kept
        ("1.2-upgrade.md", "https://d.test/docs/1.2-upgrade"),  # version-like: kept
        ("img/a.png", None),
    ],
)
def test_docusaurus_urls(path: str, expected: str | None) -> None:
    site = Site(generator=Generator.DOCUSAURUS, base_url="https://d.test/docs/")
    assert page_url(site, path) == expected


def test_docusaurus_trailing_slash_setting() -> None:
    always = Site(generator=Generator.DOCUSAURUS, base_url="https://d.test/docs", trailing_slash=True)
    never = Site(generator=Generator.DOCUSAURUS, base_url="https://d.test/docs", trailing_slash=False)
    assert page_url(always, "a/b.md") == "https://d.test/docs/a/b/"
    assert page_url(never, "a/index.md") == "https://d.test/docs/a"


def test_docusaurus_front_matter_slug_and_id_give_the_published_url(tmp_path: Path) -> None:
    """Before, `slug:` and `id:` front matter were ignored: the bot cited the file-name URLs
    …/docs/guide/install and …/docs/guide/faq, which are 404s on the published site."""
    repo = write_docs(
        tmp_path / "repo",
        {
            "docusaurus.config.js": "module.exports = { url: 'https://docs.acme.test', baseUrl: '/' };\n",
            "docs/guide/install.md": "---\nslug: /setup\n---\n# Install\n\nDownload the kestrel installer.\n",
            "docs/guide/faq.md": "---\nid: questions\n---\n# FAQ\n\nThe zebrafish plan is free.\n",
        },
    )
    kb = KnowledgeBase(repo / "docs", tmp_path / "index")
    try:
        kb.sync()
        [install] = [
            p
            for p in kb.search("kestrel installer", DocVisibility.INTERNAL, 10).passages
            if p.path == "guide/install.md"
        ]
        [faq] = [
            p
            for p in kb.search("zebrafish plan", DocVisibility.INTERNAL, 10).passages
            if p.path == "guide/faq.md"
        ]
        assert install.url == "https://docs.acme.test/docs/setup"
        assert faq.url == "https://docs.acme.test/docs/guide/questions"
    finally:
        kb.close()


@pytest.mark.parametrize(
    ("path", "route", "expected"),
    [
        # Docusaurus' getSlug: an absolute slug is from the docs root, whatever `id:` says
        ("guide/install.md", Route(slug="/setup", id="x"), "https://d.test/docs/setup"),
        ("guide/install.md", Route(slug="/"), "https://d.test/docs/"),
        # a relative one, like `id:` (the file-name part), resolves against the folder,
        # whose number prefixes are stripped
        ("02-guide/01-faq.md", Route(id="questions"), "https://d.test/docs/guide/questions"),
        ("02-guide/01-faq.md", Route(slug="setup"), "https://d.test/docs/guide/setup"),
        ("guide/deep/install.md", Route(slug="../setup/"), "https://d.test/docs/guide/setup/"),
        # the category-index convention holds on the file's own name unless a slug is given
        ("guide/index.md", Route(id="start"), "https://d.test/docs/guide/"),
        ("guide/index.md", Route(slug="start"), "https://d.test/docs/guide/start"),
    ],
)
def test_docusaurus_front_matter_routes(path: str, route: Route, expected: str) -> None:
    site = Site(generator=Generator.DOCUSAURUS, base_url="https://d.test/docs/")
    assert page_url(site, path, route) == expected
    # other generators publish by the file's path alone
    mkdocs = Site(generator=Generator.MKDOCS, base_url="https://d.test/")
    assert page_url(mkdocs, path, route) == page_url(mkdocs, path)


def test_docusaurus_trailing_slash_applies_to_front_matter_slugs() -> None:
    never = Site(generator=Generator.DOCUSAURUS, base_url="https://d.test/docs", trailing_slash=False)
    always = Site(generator=Generator.DOCUSAURUS, base_url="https://d.test/docs", trailing_slash=True)
    assert page_url(never, "a.md", Route(slug="/setup/")) == "https://d.test/docs/setup"
    assert page_url(always, "a.md", Route(id="start")) == "https://d.test/docs/start/"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a/b.rst", "https://kb.test/a/b.html"),
        ("a/b.md", "https://kb.test/a/b"),
        ("a/b.mdx", "https://kb.test/a/b"),
        ("a/index.md", "https://kb.test/a/"),
        ("README.md", "https://kb.test/"),
        ("a/page.html", "https://kb.test/a/page.html"),
        ("notes.txt", "https://kb.test/notes.txt"),
        ("./a//b.md", "https://kb.test/a/b"),
        ("a\\b.md", "https://kb.test/a/b"),
        ("../escape.md", None),
    ],
)
def test_plain_urls(path: str, expected: str | None) -> None:
    assert page_url(Site(generator=Generator.PLAIN, base_url="https://kb.test"), path) == expected


def test_no_base_url_means_no_url() -> None:
    for generator in Generator:
        assert page_url(Site(generator=generator, base_url=None), "a/b.md") is None


def test_exactly_one_slash_whatever_the_base_url_ends_with() -> None:
    for base in ("https://d.test/x", "https://d.test/x/", "https://d.test/x//"):
        assert page_url(Site(generator=Generator.PLAIN, base_url=base), "/a/b.md") == "https://d.test/x/a/b"


# -- anchors ----------------------------------------------------------------------------------

# The same headings through all three tools, in one document each, in this order.
HEADINGS = [
    "Install & Configure!",
    'foo() and bar: the "Quick" Start',  # `foo()` and *bar* once the Markdown is stripped
    "상태를 업데이트하기",
    "Crème brûlée 🚀 v2.0",
    "Usage",
    "Usage",
    "Usage_1",
    "Usage",
    "snake_case --  spaced",
    "-leading dash",
    "🚀",
    "🚀",
    "What's new in 2.0?",
    "C++ & C#",
    "Ünïcödé ﬁ ligature",
]

# Python-Markdown 3.11.3, toc extension, default slugify
PYTHON_MARKDOWN = [
    "install-configure",
    "foo-and-bar-the-quick-start",
    "_1",
    "creme-brulee-v20",
    "usage",
    "usage_1",
    "usage_2",
    "usage_3",
    "snake_case-spaced",
    "-leading-dash",
    "_2",
    "_3",
    "whats-new-in-20",
    "c-c",
    "unicode-fi-ligature",
]

# github-slugger 2.0.0
GITHUB = [
    "install--configure",
    "foo-and-bar-the-quick-start",
    "상태를-업데이트하기",
    "crème-brûlée--v20",
    "usage",
    "usage-1",
    "usage_1",
    "usage-2",
    "snake_case-----spaced",
    "-leading-dash",
    "",
    "-1",
    "whats-new-in-20",
    "c--c",
    "ünïcödé-ﬁ-ligature",
]


def test_python_markdown_slugs_match_the_toc_extension() -> None:
    slugger = Slugger(SlugStyle.PYTHON_MARKDOWN)
    assert [slugger.slug(h) for h in HEADINGS] == PYTHON_MARKDOWN


def test_github_slugs_match_github_slugger() -> None:
    slugger = Slugger(SlugStyle.GITHUB)
    assert [slugger.slug(h) for h in HEADINGS] == GITHUB


def test_github_slugger_edge_cases() -> None:
    # from github-slugger 2.0.0 under Node: circled letters are Alphabetic symbols and stay,
    # an emoji's skin-tone modifier goes with it
    slugger = Slugger(SlugStyle.GITHUB)
    assert slugger.slug("Ⓐ circled") == "ⓐ-circled"
    assert slugger.slug("👍🏽 Thumbs") == "-thumbs"
    assert slugger.slug("Step 1: `npm install`") == "step-1-npm-install"
    # the counter belongs to the original slug: a, a -> a-1, then a literal "a-1" -> a-1-1
    repeat = Slugger(SlugStyle.GITHUB)
    assert [repeat.slug(h) for h in ("echo", "echo", "echo 1", "echo-1", "echo")] == [
        "echo",
        "echo-1",
        "echo-1-1",
        "echo-1-2",
        "echo-2",
    ]


def test_docutils_slugs_match_a_sphinx_build() -> None:
    # section ids of one page built with Sphinx 9.0.4: a non-ASCII or repeated title takes
    # the page's next idN
    titles = [
        "Title",
        "Usage",
        "Usage",
        "상태를 업데이트하기",
        'foo() and bar: the "Quick" Start!',
        "1. Numbered Intro",
        "Usage",
        "Crème brûlée 🚀 v2.0",
        "Usage_1",
    ]
    slugger = Slugger(SlugStyle.DOCUTILS)
    assert [slugger.slug(t) for t in titles] == [
        "title",
        "usage",
        "id1",
        "id2",
        "foo-and-bar-the-quick-start",
        "numbered-intro",
        "id3",
        "creme-brulee-v2-0",
        "usage-1",
    ]


def test_explicit_ids_follow_each_tools_own_rule() -> None:
    page = [("Guide", None), ("Options", "server-options"), ("Options", None), ("Server Options", None)]
    # Python-Markdown toc: explicit ids are taken before any heading is slugged
    assert heading_ids(SlugStyle.PYTHON_MARKDOWN, page) == (
        "guide",
        "server-options",
        "options",
        "server-options_1",
    )
    # Docusaurus: an explicit id bypasses github-slugger, which never counts it
    assert heading_ids(SlugStyle.GITHUB, page) == ("guide", "server-options", "options", "server-options")
    # docutils (checked with publish_doctree): a label takes its id before its section
    # takes its own, so both count; Hangul-only ones take the page's next idN
    labelled = [("가이드", None), ("설치", "설치하기"), ("Options", "options"), ("Options", None)]
    assert heading_ids(SlugStyle.DOCUTILS, labelled) == ("id1", "id2", "options", "id5")


def test_sluggers_are_per_document() -> None:
    first, second = Slugger(SlugStyle.GITHUB), Slugger(SlugStyle.GITHUB)
    assert (first.slug("Usage"), first.slug("Usage"), second.slug("Usage")) == ("usage", "usage-1", "usage")


def test_stateless_slug_functions() -> None:
    assert python_markdown_slug("Usage") == python_markdown_slug("Usage") == "usage"
    assert github_slug("상태를 업데이트하기") == "상태를-업데이트하기"


def test_slug_style_per_generator_and_suffix() -> None:
    def style(generator: Generator, path: str) -> SlugStyle:
        return slug_style(Site(generator=generator, base_url=None), path)

    assert style(Generator.MKDOCS, "a.md") is SlugStyle.PYTHON_MARKDOWN
    assert style(Generator.SPHINX, "a.rst") is SlugStyle.DOCUTILS
    assert style(Generator.SPHINX, "a.md") is SlugStyle.DOCUTILS  # MyST sections are docutils'
    assert style(Generator.DOCUSAURUS, "a.mdx") is SlugStyle.GITHUB
    assert style(Generator.PLAIN, "a.md") is SlugStyle.GITHUB
    assert style(Generator.PLAIN, "a/B.RST") is SlugStyle.DOCUTILS


def test_mkdocs_unicode_slugify_gives_korean_heading_anchors(tmp_path: Path) -> None:
    """Before, mkdocs.yml's toc `slugify` (what MkDocs and Material document for headings in
    other scripts) was ignored: `## 설치 방법` was cited as `#_1`, Python-Markdown's default
    slug, while the site's id, from slugify_unicode, is `설치-방법`."""
    repo = write_docs(
        tmp_path / "repo",
        {
            "mkdocs.yml": (
                "site_name: 문서\nsite_url: https://docs.acme.test/\n"
                "markdown_extensions:\n"
                "  - toc:\n"
                "      permalink: true\n"
                "      slugify: !!python/name:markdown.extensions.toc.slugify_unicode\n"
            ),
            "docs/guide.md": "# 가이드\n\n## 설치 방법\n\n설치 프로그램을 내려받아 실행하세요.\n",
        },
    )
    kb = KnowledgeBase(repo / "docs", tmp_path / "index")
    try:
        kb.sync()
        [best, *_] = kb.search("설치 프로그램", DocVisibility.INTERNAL, 10).passages
        assert best.heading == "설치 방법"
        assert best.url == "https://docs.acme.test/guide/#%EC%84%A4%EC%B9%98-%EB%B0%A9%EB%B2%95"
    finally:
        kb.close()


@pytest.mark.parametrize(
    ("toc", "expected"),
    [
        ("- toc", TocSlugify()),
        ("- toc:\n      separator: _", TocSlugify(separator="_")),
        (
            "- markdown.extensions.toc:\n      slugify: !!python/name:markdown.extensions.toc.slugify_unicode",
            TocSlugify(function=TocFunction.PYTHON_MARKDOWN_UNICODE),
        ),
        # Material's advice, read as the call it is (never made)
        (
            "- toc:\n      slugify: !!python/object/apply:pymdownx.slugs.slugify\n"
            "        kwds: {case: lower, percent_encode: true}",
            TocSlugify(function=TocFunction.PYMDOWNX, case="lower", percent_encode=True),
        ),
        (
            "- toc:\n      slugify: !!python/name:pymdownx.slugs.uslugify",
            TocSlugify(function=TocFunction.PYMDOWNX, case="lower"),
        ),
        # a slugify of the site's own: not knowable, Python-Markdown's is kept
        ("- toc:\n      slugify: !!python/name:hooks.my_slug", TocSlugify()),
    ],
)
def test_mkdocs_toc_slugify_setting_is_read_without_importing_it(
    tmp_path: Path, toc: str, expected: TocSlugify
) -> None:
    (tmp_path / "mkdocs.yml").write_text(
        f"site_url: https://x.test/\nmarkdown_extensions:\n  - admonition\n  {toc}\n", encoding="utf-8"
    )
    assert detect_site(tmp_path / "docs").toc == expected


def test_toc_slugify_functions_match_python_markdown_and_pymdown_extensions() -> None:
    # markdown/extensions/toc.py's slugify(unicode=True) and pymdownx/slugs.py's slugify(...),
    # run on these headings
    unicode = TocSlugify(function=TocFunction.PYTHON_MARKDOWN_UNICODE)
    assert [unicode.slug(h) for h in ("설치 방법", "Crème brûlée 🚀 v2.0", "API  Keys")] == [
        "설치-방법",
        "crème-brûlée-v20",
        "api-keys",
    ]
    assert python_markdown_slug("설치 방법", "_", unicode=True) == "설치_방법"
    # pymdownx keeps case unless told and turns each space into the separator
    assert TocSlugify(function=TocFunction.PYMDOWNX).slug("API  Keys") == "API--Keys"
    lower = TocSlugify(function=TocFunction.PYMDOWNX, case="lower")
    assert lower.slug("Testing unicode-slugs_headers ±♠Ωℑ") == "testing-unicode-slugs_headers-ωℑ"
    encoded = TocSlugify(function=TocFunction.PYMDOWNX, case="lower", percent_encode=True)
    assert encoded.slug("설치 방법") == "%EC%84%A4%EC%B9%98-%EB%B0%A9%EB%B2%95"
    # numbered like any toc slug
    assert heading_ids(SlugStyle.PYTHON_MARKDOWN, [("설치", None), ("설치", None)], toc=unicode) == (
        "설치",
        "설치_1",
    )


def test_anchored_percent_encodes_consistently() -> None:
    assert anchored("https://d.test/a/", "install-configure") == "https://d.test/a/#install-configure"
    assert (
        anchored("https://d.test/a", "상태를-업데이트하기")
        == "https://d.test/a#%EC%83%81%ED%83%9C%EB%A5%BC-%EC%97%85%EB%8D%B0%EC%9D%B4%ED%8A%B8%ED%95%98%EA%B8%B0"
    )
    assert (
        anchored("https://d.test/a", "crème-brûlée--v20")
        == "https://d.test/a#cr%C3%A8me-br%C3%BBl%C3%A9e--v20"
    )
    assert anchored("https://d.test/a", "a b#c%d") == "https://d.test/a#a%20b%23c%25d"
    assert anchored("https://d.test/a#old", "new") == "https://d.test/a#new"
    assert anchored("https://d.test/a#old", None) == "https://d.test/a"
    assert anchored("https://d.test/a", "") == "https://d.test/a"


def test_a_whole_citation() -> None:
    site = detect_site(FIXTURES / "mkdocs" / "docs")
    slugger = Slugger(slug_style(site, "guide/setup.md"))
    anchors = [slugger.slug(h) for h in ("Setup", "Tokens", "Tokens")]
    url = page_url(site, "guide/setup.md")
    assert url is not None
    assert anchored(url, anchors[-1]) == "https://docs.acme.test/guide/setup/#tokens_1"
