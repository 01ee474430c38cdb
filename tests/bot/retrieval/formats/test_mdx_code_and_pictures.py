"""MDX constructs that are not Markdown inside: code components, pictures with captions, and
JSX expressions holding a string. Each fixture is written as react.dev and Docusaurus pages
write it (react_ko blog posts, learn pages)."""

from __future__ import annotations

from pathlib import Path

from bot.retrieval.documents import read_document


def _read(tmp_path: Path, source: str, name: str = "page.md") -> str:
    file = tmp_path / name
    file.write_text(source, encoding="utf-8")
    return "\n\n".join(s.text for s in read_document(tmp_path, file, file.read_bytes()).sections)


def test_a_terminal_block_becomes_a_fenced_shell_command(tmp_path: Path) -> None:
    text = _read(
        tmp_path,
        "## 설치 {/*install*/}\n\nTo install React Compiler Beta:\n\n<TerminalBlock>\n"
        "npm install -D babel-plugin-react-compiler@beta eslint-plugin-react-compiler@beta\n"
        "</TerminalBlock>\n\nOr, if you're using Yarn:\n\n<TerminalBlock>\n\nyarn add -D x@beta\n\n"
        "</TerminalBlock>\n\nnpm\n<TerminalBlock>npm ls react</TerminalBlock>\n\nDone.\n",
    )
    assert text == (
        "To install React Compiler Beta:\n\n"
        "```bash\nnpm install -D babel-plugin-react-compiler@beta eslint-plugin-react-compiler@beta\n```\n\n"
        "Or, if you're using Yarn:\n\n```bash\nyarn add -D x@beta\n```\n\nnpm\n\n```bash\nnpm ls react\n```\n\nDone."
    )


def test_a_template_literal_in_a_terminal_block_is_its_string(tmp_path: Path) -> None:
    text = _read(
        tmp_path,
        "RC 설치 방법은 다음과 같습니다.\n\npnpm\n\n<TerminalBlock>\n"
        "  {`pnpm add --save-dev --save-exact babel-plugin-react-compiler@rc`}\n</TerminalBlock>\n",
    )
    assert text.endswith(
        "pnpm\n\n```bash\npnpm add --save-dev --save-exact babel-plugin-react-compiler@rc\n```"
    )


def test_a_docusaurus_code_block_takes_its_language_and_keeps_its_lines(tmp_path: Path) -> None:
    text = _read(
        tmp_path,
        'import CodeBlock from \'@theme/CodeBlock\';\n\nUse it:\n\n<CodeBlock language="jsx" title="/src/App.js">\n'
        "  {`function App() {\n    return <h1>Hi</h1>;\n  }`}\n</CodeBlock>\n",
        name="page.mdx",
    )
    assert text == "Use it:\n\n```jsx\nfunction App() {\n    return <h1>Hi</h1>;\n  }\n```"


def test_a_code_component_never_closed_is_read_as_any_component(tmp_path: Path) -> None:
    text = _read(tmp_path, "<Note>\n\nRun:\n\n<TerminalBlock>\nnpm ls react\n\n</Note>\n")
    assert text == "**Note:**\n\nRun:\n\nnpm ls react"


def test_a_picture_goes_with_its_caption(tmp_path: Path) -> None:
    text = _read(
        tmp_path,
        "Lifting state up can lead to prop drilling.\n\n<DiagramGroup>\n\n"
        '<Diagram name="lifting" height={160} width={608} captionPosition="top" alt="A tree of three '
        'components." >\n\nState 끌어올리기\n\n</Diagram>\n'
        '<Diagram name="drilling" height={430} alt="A tree of ten nodes.">\n\nProp drilling\n\n</Diagram>\n\n'
        "</DiagramGroup>\n\n"
        '<Diagram name="tree" height={150} alt="A render tree.">렌더 트리는 컴포넌트 사용을 보여줍니다.</Diagram>\n\n'
        '<Illustration caption="Trigger" alt="React as a server." src="/images/i.png" />\n\n'
        "Wouldn't it be great to teleport data?\n",
    )
    assert text == "Lifting state up can lead to prop drilling.\n\nWouldn't it be great to teleport data?"


def test_string_expressions_in_prose_become_their_text(tmp_path: Path) -> None:
    text = _read(
        tmp_path,
        '<ConsoleBlockMulti>\n<ConsoleLogLine level="error">\n\n'
        "Warning: Text content did not match.\n{'  '}at span\n{'  '}at App\n\n"
        "Hydration failed:{'\\n'}\nthe tree is regenerated. Tag: {'<b>'} and {\"*x*\"}\n\n"
        "</ConsoleLogLine>\n</ConsoleBlockMulti>\n",
    )
    # the string's `*` are its characters: escaped, they show as such, not as italics
    assert text == (
        "Warning: Text content did not match.\nat span\nat App\n\n"
        "Hydration failed:\n\nthe tree is regenerated. Tag: <b> and \\*x\\*"
    )


def test_code_spans_are_not_expressions(tmp_path: Path) -> None:
    # `{`와 `}` is two code spans (the first backtick comes first), and code keeps its braces
    text = _read(
        tmp_path,
        "<Intro>\n\nIntro.\n\n</Intro>\n\n"
        "`case` 블록을 중괄호인 `{`와 `}`로 감싸세요. `{'a'}` stays.\n\n```js\nconst s = {'x'};\n```\n",
    )
    assert (
        text
        == "Intro.\n\n`case` 블록을 중괄호인 `{`와 `}`로 감싸세요. `{'a'}` stays.\n\n```js\nconst s = {'x'};\n```"
    )
