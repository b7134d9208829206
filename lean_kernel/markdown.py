"""Markdown that carries Lean's text without letting it become markup.

JupyterLab renders the Markdown of an output produced in the running session as trusted, without
its HTML sanitizer, so text that closes a code fence or holds a tag runs in the page. Lean's text
(names in guillemets may hold backticks, newlines and HTML) goes into a fence it cannot close, or
is escaped character by character.
"""

from __future__ import annotations

import re

_BACKTICK_RUN = re.compile(r"`+")
_OPENING_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_INFO_WORD = re.compile(r"[A-Za-z0-9_+-]+")
# What can begin raw HTML in CommonMark: a tag, a closing tag, a comment, a declaration, a
# processing instruction (and the HTML blocks that start with them), or an autolink.
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_ASCII_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in _BACKTICK_RUN.findall(text)), default=0)


def code_block(text: str, info: str = "lean") -> str:
    """``text`` as a fenced code block that nothing in it can close: the fence is longer than
    any run of backticks in the text (a closing fence needs at least the opening's length)."""
    fence = "`" * max(3, _longest_backtick_run(text) + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def text_span(text: str) -> str:
    """``text`` as literal inline Markdown: every ASCII punctuation character backslash-escaped
    (CommonMark allows that for each of them), so no emphasis, link, code span, tag, entity or
    math delimiter can start; on one line."""
    return _ASCII_PUNCTUATION.sub(r"\\\1", " ".join(text.splitlines()))


def _closes(line: str, fence: str) -> bool:
    stripped = line.rstrip(" \t")
    body = stripped.lstrip(" ")
    return (
        len(stripped) - len(body) <= 3 and len(body) >= len(fence) and body == fence[0] * len(body)
    )


def safe_markdown(markdown: str) -> str:
    """Markdown written by Lean (a hover: signatures in fences, docstrings), rebuilt so that it
    renders as before but holds no raw HTML: every fenced block is read the way CommonMark reads
    it and written again with a fence its content cannot close, and outside the blocks every
    ``<`` that could open a tag, comment or autolink becomes ``&lt;``."""
    out: list[str] = []
    lines = markdown.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        opening = _OPENING_FENCE.match(line)
        if opening and not (opening["fence"][0] == "`" and "`" in opening["info"]):
            fence = opening["fence"]
            body: list[str] = []
            index += 1
            while index < len(lines) and not _closes(lines[index], fence):
                body.append(lines[index])
                index += 1
            index += 1  # the closing fence (or the end: an unclosed block runs to the end)
            word = _INFO_WORD.match(opening["info"].strip())
            out.append(code_block("\n".join(body), word.group(0) if word else ""))
            continue
        out.append(_TAG_START.sub("&lt;", line))
        index += 1
    return "\n".join(out)
