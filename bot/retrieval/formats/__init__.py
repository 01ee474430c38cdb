"""One parser per documentation format, each turning a file into clean-Markdown sections.

`bot.retrieval.documents` is the public entry and picks the parser by suffix; the modules
here own the markup of one format each (markdown, mdx, rst, html, text, pdf), and `common`
holds what they share: the parse context (roots, warnings), include resolution, fencing and
the section builder.
"""
