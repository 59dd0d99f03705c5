"""Rust's tokens, for telling a change of code from one of formatting or comments.

`edit_type(old, new)` compares two versions of an item the way a reviewer would:
"code" when a token outside comments changed, "comments" when only comments (doc
comments too) changed, "formatting" when only whitespace, line breaks and trailing
commas did (what rustfmt changes). Whitespace inside a literal is the literal's, so
`"a b"` to `"ab"` is code.

A lexer, not the parser: an item's text is lexed on its own (no parse of its file),
with the tokens where it matters here as tree-sitter-rust has them: comments (block
comments nest), strings, raw strings, byte strings and char literals. It is made of
passes CPython runs in C. A quick test first (`_naive_code`: comments and whitespace
stripped without lexing) tells most changes of code apart, about 30 µs an item; the
rest are lexed: one regex finds the comments and literals, and the code between them
is normalized with `split` and two substitutions.
"""

from __future__ import annotations

import re

from indexer.shapes import CODE, COMMENTS, FORMATTING

# Each branch starts with one character (`/`, `"`, `'`, `r`), which lets the regex
# engine skip to the candidates: with a `b?` first (byte strings), it tried every
# position and was six times slower. A `b` before a literal stays in the code.
_SPECIAL = re.compile(
    r"""
      //[^\n]*
    | /\*.*?(?:\*/|\Z)
    | "(?:\\.|[^"\\])*(?:"|\Z)
    | '(?:\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F_]{1,6}\}|.)|[^'\\\n])'
    | r(\#*)".*?(?:"\1|\Z)
    """,
    re.VERBOSE | re.DOTALL,
)
# A comma before a closing bracket, or before the `{` that ends a where clause
# (rustfmt's `where\n    T: Clone,\n{`), in code without whitespace. A comma before
# a `{` that opens a block argument (`f(a, {b})`) is taken out too: the two versions
# it would equate (`f(a, {b})` and `f(a {b})`) are never both the code of one edit.
_TRAILING_COMMA = re.compile(r",(?=[)\]}{])")
# The quick test: line comments found naively (a `//` in a string is taken for one)
# and every whitespace character removed. Texts without block comments (they nest)
# that differ so differ in code; the others are lexed for the answer.
_NAIVE_LINE = re.compile(r"//[^\n]*")


def _block_end(text: str, start: int) -> int:
    """The end of the block comment opened at `start` (they nest), or of the text."""
    depth, at = 0, start
    while at < len(text):
        pair = text[at : at + 2]
        if pair in ("/*", "*/"):
            depth += 1 if pair == "/*" else -1
            at += 2
            if depth == 0:
                return at
        else:
            at += 1
    return at


def lex(text: str) -> tuple[list[str], list[str]]:
    """`text` as its code (runs of normalized code, each literal on its own) and its
    comments (each with its whitespace collapsed)."""
    code: list[str] = []
    comments: list[str] = []
    run: list[str] = []  # code since the last literal; a comment counts as a space
    at = 0
    while (match := _SPECIAL.search(text, at)) is not None:
        start, end = match.span()
        run.append(text[at:start])
        token = match.group()
        if token.startswith("/*"):
            end = _block_end(text, start)
            token = text[start:end]
        if token.startswith(("//", "/*")):
            comments.append(" ".join(token.split()))
            run.append(" ")
        else:
            code.append(_normal("".join(run)))
            code.append(token)
            run = []
        at = end
    run.append(text[at:])
    code.append(_normal("".join(run)))
    return code, comments


def _normal(code: str) -> str:
    """Code without its whitespace, but for one space between two words (`pub fn`
    stays two words, `a + b` is `a+b`), and without trailing commas."""
    out: list[str] = []
    for piece in code.split():
        if out and _is_word(out[-1][-1]) and _is_word(piece[0]):
            out.append(" ")
        out.append(piece)
    return _TRAILING_COMMA.sub("", "".join(out))


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _naive_code(text: str) -> str:
    if "//" in text:
        text = _NAIVE_LINE.sub("", text)
    return _TRAILING_COMMA.sub("", "".join(text.split()))


def edit_type(old: str, new: str) -> str:
    """CODE, COMMENTS or FORMATTING: what changed from `old` to `new`."""
    if _naive_code(old) != _naive_code(new) and "/*" not in old and "/*" not in new:
        return CODE  # most changes: decided without lexing (block comments nest)
    old_code, old_comments = lex(old)
    new_code, new_comments = lex(new)
    if old_code != new_code:
        return CODE
    return FORMATTING if old_comments == new_comments else COMMENTS
