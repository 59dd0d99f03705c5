"""Commit messages as a training example shows them, and which commits to leave out.

`clean(message)` is the message segment: what CommitChronicle (Eliseeva et al., 2023,
after Liu et al., 2018 and 2019) removes from messages is removed line by line:
trailers (`Signed-off-by:`, `Co-authored-by:`, `Reviewed-on:`, `Change-Id:`, ...),
e-mail addresses (already `<email>` in the store), URLs, issue and PR references
(`#123`, `GH-123`, `(#123)`, Jira keys such as `PROJ-123`), @mentions and commit ids
(7 to 40 hex digits with a digit in them); a line left empty goes. The store keeps the
message as it was (redacted), for `show` and for a later change of these rules.

`left_out(author, message)` says why a commit's examples are not worth training on,
or None: a bot's commit (dependabot, renovate, github-actions, `[bot]` names), a
revert, a `fixup!`/`squash!`/`amend!` commit, a work-in-progress one ("wip", "tmp",
"temp"...), an empty message, and CommitChronicle's trivial ones ("bump version",
"update changelog", ...). Merges make no examples at all (`examples.makes_examples`).
"""

from __future__ import annotations

import re

EMAIL_PLACEHOLDER = "<email>"

_TRAILER = re.compile(
    r"^\s*(?:signed[- ]?off[- ]?by|co[- ]?authored[- ]?by|also[- ]?by|reviewed[- ]?(?:by|on)"
    r"|acked[- ]?by|tested[- ]?by|reported[- ]?by|suggested[- ]?by|helped[- ]?by"
    r"|cc|bug|change-id|git-svn-id|former[- ]commit[- ]id"
    r"|differential revision|pulled[- ]by|piperorigin-revid|auto-submit|commit-queue"
    r"|cherry[- ]picked[- ]from|\(cherry picked from)\b[\s:=].*$",
    re.IGNORECASE,
)
_EMAIL = re.compile(
    r"[<(\[]?(?:" + re.escape(EMAIL_PLACEHOLDER) + r"|[\w.+-]+@[\w-]+\.[\w.-]+)[>)\]]?"
)
_URL = re.compile(r"<?\b(?:https?|ftp)://[^\s<>)\]]*[^\s<>)\].,;:!?'\"]>?")  # not its full stop
_ISSUE = re.compile(
    r"[(\[]?(?<![\w/])(?:#\d+|(?:gh|GH)-\d+|[A-Z][A-Z0-9]+-\d+|[\w.-]+/[\w.-]+#\d+)\b[)\]]?"
)
# "Closes #12." and the like: the whole line when it holds nothing else, else the
# sentence (a line "Closes #458. Implements Log for ..." keeps what it implements).
_REF = r"(?:(?:[\w.-]+/[\w.-]+)?#\d+|(?:gh|GH)-\d+|[A-Z][A-Z0-9]+-\d+|https?://\S+)"
_CLOSES = r"(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?|refs?|see|part of|related(?: to)?|for)"
# One or more refs, each after the first with its own keyword or not: "#1, #2",
# "#57, Closes #83", "#1 and fixes #2".
_REFS = rf"{_REF}(?:\s*(?:,|and|&)?\s*(?:{_CLOSES}\b:?\s*)?{_REF})*"
_CLOSES_LINE = re.compile(rf"^\s*{_CLOSES}\b:?\s*{_REFS}\s*\.?\s*$", re.IGNORECASE)
_CLOSES_SENTENCE = re.compile(
    rf"(?:^|(?<=[.!?]\s)){_CLOSES}\b:?\s*{_REFS}\s*[.;]\s*", re.IGNORECASE
)
_MENTION = re.compile(r"(?<![\w@])@[\w-]+(?:/[\w-]+)?(?:'s\b)?")
_SHA = re.compile(r"(?<![\w-])(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}(?![\w-])")
# What the above leave behind: "(see )", "[]", a space before punctuation, and a
# word that pointed at what went ("..., see", "fixed in.") at the end of a line.
_LEFTOVER = re.compile(r"\(\s*(?:see|in|by|from|of|for)?\s*[,;:]?\s*\)|\[\s*\]")
# A footnote whose text is a URL ("[1]: https://..."): the line goes, and so do the
# marks that point at it ("as memchr did[1].").
_URL_FOOTNOTE = re.compile(r"^\s*\[([^\]\s]{1,20})\]:?\s*(?:https?|ftp)://\S+\s*$")
_SPACES = re.compile(r"[ \t]{2,}")
_SPACE_BEFORE_PUNCT = re.compile(r"[ \t]+([,.;:!?])")
_DANGLING = re.compile(
    r"[,;:]?[ \t]*\b(?:(?:as )?(?:described|discussed|reported|suggested|mentioned)"
    r"(?: (?:in|at|on|by))?|see|at|in|via|from|cf\.?|on|for|by)[ \t]*([.!?]?)[ \t]*$",
    re.I,
)


def clean(message: str) -> str:
    """The message with trailers, e-mails, URLs, issue refs, mentions and commit ids
    taken out; the rest of each line as it was."""
    given = message.splitlines()
    footnotes = {at: m[1] for at, m in enumerate(map(_URL_FOOTNOTE.match, given)) if m}
    marks = [re.compile(r"\[" + re.escape(label) + r"\]") for label in footnotes.values()]
    lines = []
    for at, line in enumerate(given):
        if at in footnotes or _TRAILER.match(line) or _CLOSES_LINE.match(line):
            continue
        cleaned = _CLOSES_SENTENCE.sub("", line)
        for pattern in (_URL, _EMAIL, _ISSUE, _MENTION, _SHA, _LEFTOVER, *marks):
            cleaned = pattern.sub("", cleaned)
        if cleaned != line:
            cleaned = _SPACE_BEFORE_PUNCT.sub(r"\1", _SPACES.sub(" ", cleaned))
            cleaned = _DANGLING.sub(r"\1", cleaned).rstrip(" \t,;:-")
            if not cleaned.strip(" \t.,;:-()[]"):
                continue  # nothing left of the line but what was taken out
        lines.append(cleaned.rstrip())
    while lines and not lines[-1].strip():
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    if lines:
        lines[0] = lines[0].strip()  # a subject's stray indent
    return "\n".join(lines)


def subject(message: str) -> str:
    """The first paragraph's first line (the subject)."""
    return message.strip().split("\n", 1)[0].strip() if message.strip() else ""


# Why a commit is left out, in the order they are checked.
BOT, REVERT, FIXUP, WIP, EMPTY, TRIVIAL = (
    "bot",
    "revert",
    "fixup",
    "wip",
    "empty_message",
    "trivial_message",
)
COMMIT_REASONS = (BOT, REVERT, FIXUP, WIP, EMPTY, TRIVIAL)

_BOT_AUTHOR = re.compile(
    r"\[bot\]|\bbot\b|dependabot|renovate|github-actions|greenkeeper|snyk-bot|pre-commit-ci"
    r"|mergify|imgbot|allcontributors|semantic-release",
    re.IGNORECASE,
)
_REVERT = re.compile(r'^\s*(?:revert\b|reapply\b|this reverts commit\b|"?revert ")', re.I)
_FIXUP = re.compile(r"^\s*(?:fixup|squash|amend)!", re.IGNORECASE)
_WIP = re.compile(
    r"^\s*\W*(?:wip|work in progress|tmp|temp|temporary commit|checkpoint|save|asdf|foo|test|"
    r"\.+|-+|x+)\W*$",
    re.IGNORECASE,
)
# CommitChronicle's (after Liu et al., 2018): messages a routine writes; also an
# initial commit (a whole tree "added", under a message that says nothing of it) and
# `cargo fix` (a tool's rewrite). Not "cargo fmt" or "clippy": what such a commit
# changes is judged by its tokens (`rust.tokens.edit_type`); a clippy fix is a real edit.
_TRIVIAL = re.compile(
    r"^\s*(?:update[ds]? (?:the )?(?:changelog|gitignore|readme(?:\.md)?|submodules?|"
    r"dependencies|deps|lockfile|cargo\.lock)|prepare (?:for )?(?:release|version)\b.*|"
    r"bump (?:up )?(?:the )?(?:version|crate version|deps|dependencies)\b.*|"
    r"release v?\d[\w.-]*|v?\d+\.\d+(?:\.\d+)?(?:[-+][\w.]+)?|"
    r"initial (?:commit|import|version|upload)|first commit|init|"
    r"(?:update[ds]?|changes?|fix(?:e[sd])?) (?:for|per|after) (?:the )?(?:code )?review"
    r"(?: comments| feedback)?|(?:update[ds]?|changes?) (?:for|per|after) (?:the )?comments|"
    r"(?:address(?:ed)?|apply|applied|incorporate[sd]?) (?:the )?(?:code )?(?:review )?"
    r"(?:comments|feedback|suggestions)|review (?:comments|feedback)|per review|"
    r"(?:run )?cargo (?:fix|clippy --fix)(?: --edition(?:-idioms)?)?)\W*$",
    re.IGNORECASE,
)


def left_out(author: str, message: str) -> str | None:
    """Why a commit's examples are left out (one of COMMIT_REASONS), or None."""
    if _BOT_AUTHOR.search(author):
        return BOT
    first = subject(message)
    if _REVERT.match(first) or "This reverts commit" in message:
        return REVERT
    if _FIXUP.match(first):
        return FIXUP
    cleaned = subject(clean(message))
    if not cleaned:
        return EMPTY
    if _WIP.match(cleaned):
        return WIP
    if _TRIVIAL.match(cleaned):  # "Update for @bob's comments" is one once cleaned
        return TRIVIAL
    return None
