"""Fill-in-the-middle targets (`export --target fim`, issue 20): the file around an
item at its commit as prefix and suffix, the item's new code as the middle.

The middle is the item as it stands in the file its commit leaves (whole lines from
its first line's start); the prefix is the file before it, the suffix the file after
it, each cut at whole lines, the nearest lines first: a line above, then a line
below, until the budget is full (a side stops at its first line that does not fit).
Lines are tokenized one at a time, so a window's token count is the sum of its
lines' and the fit is exact. StarCoder's order is kept, prefix-suffix-middle (PSM):

- starcoder: `<fim_prefix><filename>PATH\\nPREFIX<fim_suffix>SUFFIX<fim_middle>MIDDLE`
  then `<|endoftext|>` (StarCoder applied FIM to whole training files, whose
  metadata comes first, so the file name stands inside the prefix);
- native: `<|path|>PATH<|fim_prefix|>PREFIX<|fim_suffix|>SUFFIX<|fim_middle|>MIDDLE
  <|end|>`;
- plain: `## file PATH\\n## code before\\nPREFIX## code after\\nSUFFIX\\n## code between\\n`,
  then `MIDDLE` and the tokenizer's end-of-text token.

Labels fall on the middle and the end token. The text around the item is read from
git at export time and screened for secrets (`secrets.redact_texts`) as it is read.

What it does not do: show the definitions from other files, the old code or the
message (a completion task: the file is the context); containers (impl, trait,
mod: their members are examples of their own) are left out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from indexer.dataset.budget import (
    EOS,
    Fitted,
    Part,
    SkipReason,
    Template,
    encode_parts,
    fit,
    get_template,
)
from indexer.dataset.tokenizer import (
    END,
    ENDOFTEXT,
    FILENAME,
    FIM_TOKENS,
    SEGMENT_TOKENS,
    STARCODER_FIM_TOKENS,
    Tokenizer,
)
from indexer.rust.text import CONTAINER_KINDS, line_start
from indexer.shapes import PATH

if TYPE_CHECKING:
    import pygit2

    from indexer.store.examples import ItemPlace

FIM_CONTAINER, FIM_UNPLACED = "fim_container", "fim_unplaced"


@dataclass(frozen=True)
class Fim:
    """A fitted FIM example: its parts, ids, and the window of the file it kept."""

    parts: list[Part]
    fitted: Fitted
    prefix: str
    suffix: str
    whole: bool  # the whole file is in the window


@dataclass(frozen=True)
class Around:
    """The file around an item: its lines before (top down) and after."""

    before: tuple[str, ...]
    after: tuple[str, ...]


class Files:
    """The files around items, read from git once each, and screened for secrets
    only where a file may hold one (asked once a file): `export` and `show` both read
    them so."""

    def __init__(self, repo: pygit2.Repository) -> None:
        self.repo = repo
        self._code: dict[str, bytes] = {}
        self._clean: dict[str, bool] = {}

    def around(self, kind: str, target: str, place: ItemPlace | None) -> Around | str:
        """The lines before and after the item whose stored text is `target`; else
        why it makes no FIM example (`FIM_CONTAINER`, `FIM_UNPLACED`)."""
        from indexer.secrets import might_hold_secrets, redact_texts

        if kind in CONTAINER_KINDS:
            return FIM_CONTAINER
        if place is None:
            return FIM_UNPLACED
        if place.blob not in self._code:
            self._code[place.blob] = self.repo[place.blob].data
        code = self._code[place.blob]
        span = next(
            (
                (line_start(code, start), end)
                for start, end in place.spans
                if code[line_start(code, start) : end].decode() == target
            ),
            None,
        )
        if span is None:  # its target was redacted, or it is not in the file
            return FIM_UNPLACED
        before, after = code[: span[0]].decode(), code[span[1] :].decode()
        if place.blob not in self._clean:
            self._clean[place.blob] = not might_hold_secrets(code.decode())
        if not self._clean[place.blob]:
            before, after = redact_texts([before, after])
        return Around(
            tuple(before.splitlines(keepends=True)), tuple(after.splitlines(keepends=True))
        )


def _marks(template: str, path: str) -> tuple[list[Part], Part, Part, list[Part]]:
    """The template's parts before the prefix, the prefix's and suffix's (their forms
    filled in later) and the parts from the middle's marker on."""
    if template == "starcoder":
        prefix_token, suffix_token, middle_token = STARCODER_FIM_TOKENS
        head = [Part("marker", None, (prefix_token, FILENAME), (path,), ("\n",))]
        return (
            head,
            Part("marker", None),
            Part("marker", None, (suffix_token,)),
            [Part("marker", None, (middle_token,))],
        )
    if template == "native":
        prefix_token, suffix_token, middle_token = FIM_TOKENS
        head = [Part(PATH, 0, (SEGMENT_TOKENS[PATH],), (path,))]
        return (
            head,
            Part("marker", None, (prefix_token,)),
            Part("marker", None, (suffix_token,)),
            [Part("marker", None, (middle_token,))],
        )
    head = [Part(PATH, 0, ("## file ",), (path,), ("\n",))]
    return (
        head,
        Part("marker", None, ("## code before\n",)),
        Part("marker", None, ("## code after\n",)),
        [Part("marker", None, ("\n## code between\n",))],
    )


def fim_parts(template: str, path: str, prefix: str, suffix: str, middle: str) -> list[Part]:
    """The example's parts: the path, prefix, suffix, the middle's marker and the middle."""
    head, pre, suf, mid = _marks(template, path)
    end = {"native": END, "starcoder": ENDOFTEXT}.get(template, EOS)
    return [
        *head,
        Part(pre.kind, pre.rank, pre.head, (prefix,)),
        Part(suf.kind, suf.rank, suf.head, (suffix,)),
        *mid,
        Part("target", None, (), (middle,), (end,)),
    ]


def fit_fim(
    tokenizer: Tokenizer,
    template: str,
    path: str,
    text: Around,
    middle: str,
    max_tokens: int,
    encode_line: Callable[[str], list[int]],
) -> Fim | SkipReason:
    """The FIM example of `middle` with as much of the file around it as fits
    `max_tokens`, the nearest lines first; or why it does not fit."""
    tpl = fim_template(template)

    def encode(body: str) -> list[int]:  # a window's ids: the sum of its lines'
        return [i for line in body.splitlines(keepends=True) for i in encode_line(line)]

    bare = encode_parts(fim_parts(template, path, "", "", middle), 1, tokenizer, tpl, encode)
    fitted = fit(bare, max_tokens)
    if isinstance(fitted, SkipReason) or fitted.dropped:
        n = fitted.n_tokens if isinstance(fitted, SkipReason) else max_tokens + 1
        return SkipReason("target_too_long", n, max_tokens)
    left = max_tokens - fitted.n_tokens
    before, after = 0, 0  # lines kept on each side
    sides = [True, True]  # each side still growing
    while any(sides):
        for side in (0, 1):
            if not sides[side]:
                continue
            lines = text.before if side == 0 else text.after
            taken = before if side == 0 else after
            if taken == len(lines):
                sides[side] = False
                continue
            line = lines[-1 - taken] if side == 0 else lines[taken]
            cost = len(encode_line(line))
            if cost > left:
                sides[side] = False
                continue
            left -= cost
            if side == 0:
                before += 1
            else:
                after += 1
    prefix = "".join(text.before[len(text.before) - before :])
    suffix = "".join(text.after[:after])
    parts = fim_parts(template, path, prefix, suffix, middle)
    result = fit(encode_parts(parts, 1, tokenizer, tpl, encode), max_tokens)
    assert isinstance(result, Fitted) and not result.dropped, "the window was reckoned to fit"
    whole = before == len(text.before) and after == len(text.after)
    return Fim(parts, result, prefix, suffix, whole)


# The FIM tokens each template needs besides its own, and what to do without them.
_NEEDS = {
    "native": (
        FIM_TOKENS,
        "a native tokenizer trained before FIM lacks its tokens:"
        " `commit-indexer tokenizer train` trains one that has them",
    ),
    "starcoder": (
        STARCODER_FIM_TOKENS,
        "the starcoder template's FIM needs StarCoder's <fim_*> tokens;"
        " `--template plain` goes with any model's",
    ),
}


def fim_template(template: str) -> Template:
    """`template` with the FIM tokens it needs besides its own, each one token."""
    tpl = get_template(template)
    tokens, hint = _NEEDS.get(template, ((), tpl.hint))
    return dataclasses.replace(
        tpl, name=f"{template}+fim", tokens=(*tpl.tokens, *tokens), hint=hint
    )
