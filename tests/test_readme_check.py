"""The README check names the README file and lists every problem at once, with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pypi_publish.readme_check import markdown_renders_nothing, readme_problems

BROKEN_RST = ("Long Title\n====\n\nSome `broken link`_ here.\n\n.. code-block:: python\n"
              "   :bogus: 1\n\n   x = 1\n\n* item\ncontinued badly\n")
RST_VERDICT = ("does not render as reStructuredText; PyPI answers: The description failed to render "
               "in the default format of reStructuredText.")


def project(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / name).write_text(text)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    return tmp_path


def test_every_rst_problem_is_listed_with_the_readme_file_and_line(tmp_path: Path) -> None:
    source = project(tmp_path, "README.rst", BROKEN_RST)
    assert readme_problems({"description": BROKEN_RST}, source_dir=source) == [
        f"`README.rst` {RST_VERDICT}",
        "`README.rst` line 2: Warning: Title underline too short.",
        "`README.rst` line 4: Error: Unknown target name: \"broken link\".",
        "`README.rst` line 6: Error: Error in \"code-block\" directive: unknown option: \"bogus\".",
        "`README.rst` line 12: Warning: Bullet list ends without a blank line; unexpected unindent.",
    ]


def test_lines_are_the_files_when_the_build_dropped_leading_blank_lines(tmp_path: Path) -> None:
    source = project(tmp_path, "README.rst", "\n\n" + BROKEN_RST)
    problems = readme_problems({"description": BROKEN_RST}, source_dir=source)
    assert problems[1] == "`README.rst` line 4: Warning: Title underline too short."


def test_declared_rst_gets_pypis_words_for_the_declared_type(tmp_path: Path) -> None:
    problems = readme_problems({"description": BROKEN_RST,
                                "description_content_type": "text/x-rst; charset=UTF-8"})
    assert problems[0] == ("the long description does not render as reStructuredText; PyPI answers: "
                           "The description failed to render for 'text/x-rst; charset=UTF-8'.")
    assert problems[1] == "the long description line 2: Warning: Title underline too short."


def test_a_readme_with_other_text_is_not_named(tmp_path: Path) -> None:
    source = project(tmp_path, "README.rst", "Something else\n")
    problems = readme_problems({"description": BROKEN_RST}, source_dir=source)
    assert problems[0] == f"the long description {RST_VERDICT}"


def test_markdown_read_as_rst_gets_told_to_declare_its_type(tmp_path: Path) -> None:
    source = project(tmp_path, "README.md", BROKEN_RST)
    assert readme_problems({"description": BROKEN_RST}, source_dir=source)[-1] == (
        "`README.md` looks like Markdown, but the metadata declares no content type, so it is read "
        "as reStructuredText: set `readme` in `pyproject.toml` (or "
        "`long_description_content_type=\"text/markdown\"`).")


def test_rst_with_only_info_messages_renders() -> None:
    # A two-character underline under a short title is an INFO, which never fails a rendering.
    assert readme_problems({"description": "Hi\n==\n\ntext\n"}) == []


def test_rst_of_only_comments_renders_to_nothing() -> None:
    assert readme_problems({"description": ".. just a comment\n"})[1:] == [
        "the long description: Error: No content rendered from RST source (it holds only comments, "
        "or nothing)."]


def test_plain_text_never_fails() -> None:
    assert readme_problems({"description": BROKEN_RST, "description_content_type": "text/plain"}) == []


def test_empty_markdown_is_refused_for_pypi() -> None:
    assert readme_problems({"description": "\n  \n", "description_content_type": "text/markdown"}) == [
        "the long description renders to nothing as Markdown (only blank lines or link reference "
        "definitions); PyPI answers: The description failed to render for 'text/markdown'."]


def test_empty_markdown_is_accepted_for_other_indexes() -> None:
    assert readme_problems({"description": "\n  \n", "description_content_type": "text/markdown"},
                           warehouse=False) == []


def test_markdown_with_text_renders() -> None:
    assert readme_problems({"description": "# Title\n\n`not rst`_\n",
                            "description_content_type": "text/markdown"}) == []


MARKDOWN_SAMPLES = [
    "", " \n\t\n", "[a]: https://example.org\n", "[a]: <https://x.org> \"title\"\n\n[b]: /x 'y'\n",
    "[a]: https://x.org)\n", "[]: https://x.org\n", "[ ]: https://x.org\n", "\u00a0\n", "# Title\n",
    "<!-- only a comment -->\n", "[a]:\n", "[a]: x (t)\n", "   [a]: x\n", "    [a]: x\n", "\\\n",
    "[a\\]]: x\n", "[a]: x trailing\n", "*\n", "-\n",
]


@pytest.mark.parametrize("text", MARKDOWN_SAMPLES)
def test_markdown_empty_rendering_is_what_readme_renderer_finds(text: str) -> None:
    pytest.importorskip("comrak", reason="readme-renderer[md] is what PyPI renders Markdown with")
    import readme_renderer.markdown

    assert markdown_renders_nothing(text) == (readme_renderer.markdown.render(text) is None)
