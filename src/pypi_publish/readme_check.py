"""Whether the long description renders on PyPI; every reStructuredText problem at once, by line."""

from __future__ import annotations

import email.message
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.metadata import RawMetadata

# CommonMark: a blank line holds only spaces and tabs; a link reference definition renders to
# nothing. A README of only these renders to nothing, and PyPI refuses an empty rendering.
_MARKDOWN_BLANK = re.compile(r"[ \t\r\n]*")
_MARKDOWN_LINK_DEFINITION = re.compile(
    r" {0,3}\[(?:[^\[\]\\\s]|\\.)(?:[^\[\]\\]|\\.)*\]:[ \t]*(?:<[^<>\n]*>|[^\s<()][^\s()]*)"
    r"(?:[ \t]+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\)))?[ \t]*")
_LEVELS = {2: "Warning", 3: "Error", 4: "Severe"}
_README_SUFFIXES = ("", ".rst", ".md", ".txt", ".markdown", ".rest")


@dataclass(frozen=True)
class Message:
    """One docutils report: where (line in the description, when docutils knows) and what."""

    line: int | None
    level: str
    text: str


def readme_problems(raw: RawMetadata, *, source_dir: Path | None = None,
                    warehouse: bool = True) -> list[str]:
    """Why the long description would not render on the index; [] when it renders.

    reStructuredText (also the default when no content type is declared) fails as `twine check`
    and PyPI make it fail; every docutils warning and error is listed, with its line. Markdown
    fails on PyPI only when it renders to nothing (`warehouse`); plain text cannot fail; other
    content types are refused by the metadata check. The README file in `source_dir` whose
    text is the description is named, and its line numbers are given.
    """
    description = raw.get("description")
    if not description:  # an empty value is left out of the form, so there is nothing to render
        return []
    declared = raw.get("description_content_type")
    content_type = _content_type(declared) if declared else "text/x-rst"
    verdict = (f"The description failed to render for {declared!r}." if declared else
               "The description failed to render in the default format of reStructuredText.")
    if content_type == "text/x-rst":
        messages = rst_messages(description)
        if messages is None:
            return []
        readme = find_readme(description, source_dir)
        where = f"`{readme.name}`" if readme else "the long description"
        problems = [f"{where} does not render as reStructuredText; PyPI answers: {verdict}"]
        problems += [_describe(where, m, readme.offset if readme else 0) for m in messages]
        if not declared and readme and readme.name.lower().endswith((".md", ".markdown")):
            problems.append(f"{where} looks like Markdown, but the metadata declares no content "
                            "type, so it is read as reStructuredText: set `readme` in "
                            "`pyproject.toml` (or `long_description_content_type=\"text/markdown\"`).")
        return problems
    if content_type == "text/markdown" and warehouse and markdown_renders_nothing(description):
        readme = find_readme(description, source_dir)
        where = f"`{readme.name}`" if readme else "the long description"
        return [f"{where} renders to nothing as Markdown (only blank lines or link reference "
                f"definitions); PyPI answers: {verdict}"]
    return []


def _content_type(declared: str) -> str:
    """The media type Warehouse renders by (warehouse/utils/readme.py, render)."""
    message = email.message.EmailMessage()
    try:
        message["content-type"] = declared
    except (ValueError, IndexError):
        return "text/plain"
    return message.get_content_type()


def _describe(where: str, message: Message, offset: int) -> str:
    line = f" line {message.line + offset}" if message.line is not None else ""
    return f"{where}{line}: {message.level}: {message.text}"


def markdown_renders_nothing(text: str) -> bool:
    """Whether readme_renderer's GFM rendering (what PyPI shows) comes out empty."""
    return all(_MARKDOWN_BLANK.fullmatch(line) or _MARKDOWN_LINK_DEFINITION.fullmatch(line)
               for line in text.splitlines())


def rst_messages(text: str) -> list[Message] | None:
    """None when readme_renderer renders `text` (as twine check and PyPI run it); else why not.

    readme_renderer stops at the first warning; to list them all, the text is read a second
    time with the same settings, but going on past each one.
    """
    import readme_renderer.rst

    if readme_renderer.rst.render(text, stream=io.StringIO()) is not None:
        return None
    messages = _all_messages(text)
    return messages or [Message(None, "Error", "No content rendered from RST source "
                                "(it holds only comments, or nothing).")]


def _all_messages(text: str) -> list[Message]:
    import readme_renderer.rst
    from docutils import nodes  # type: ignore[import-untyped]
    from docutils.core import publish_parts  # type: ignore[import-untyped]
    from docutils.readers import standalone  # type: ignore[import-untyped]
    from docutils.writers.html5_polyglot import Writer  # type: ignore[import-untyped]

    found: list[nodes.system_message] = []

    class Reader(standalone.Reader):  # type: ignore[misc]
        def new_document(self) -> nodes.document:
            document: nodes.document = super().new_document()
            document.reporter.attach_observer(found.append)
            return document

    settings: dict[str, Any] = dict(readme_renderer.rst.SETTINGS)
    settings.update(halt_level=5, warning_stream=io.StringIO())
    writer = Writer()
    writer.translator_class = readme_renderer.rst.ReadMeHTMLTranslator
    publish_parts(text, reader=Reader(), writer=writer, settings_overrides=settings)
    messages = []
    for node in found:
        level = int(node["level"])
        if level < 2:  # readme_renderer halts at 2 (WARNING); INFO never fails a rendering
            continue
        words = " ".join(child.astext() for child in node.children
                         if isinstance(child, nodes.paragraph))
        line = node.get("line")
        messages.append(Message(int(line) if line is not None else None,
                                _LEVELS.get(level, "Error"), " ".join(words.split())))
    return sorted(messages, key=lambda m: (m.line is None, m.line or 0))


@dataclass(frozen=True)
class Readme:
    name: str  # relative to the source directory
    offset: int  # lines the build dropped before the description's first line


def find_readme(description: str, source_dir: Path | None) -> Readme | None:
    """The README file in `source_dir` whose text the description is, if there is one."""
    if source_dir is None or not source_dir.is_dir():
        return None
    wanted = _normalized(description)
    for path in sorted(source_dir.iterdir()):
        if path.stem.lower() != "readme" or path.suffix.lower() not in _README_SUFFIXES:
            continue
        try:
            if not path.is_file() or path.stat().st_size > 4 * len(description) + 4096:
                continue
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if _normalized(text) == wanted:
            return Readme(path.name, _leading_lines(text) - _leading_lines(description))
    return None


def _normalized(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _leading_lines(text: str) -> int:
    text = text.replace("\r\n", "\n")
    return text[: len(text) - len(text.lstrip())].count("\n")
