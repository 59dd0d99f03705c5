"""Credentials in examples: found with detect-secrets, then redacted or the example dropped.

`screen(built, mode)` runs at the end of `examples.build_examples`, so no example is
stored unscanned, wherever it is built. Every segment (with its shorter variants) and
the target are scanned line by line. In `redact` mode (the default) each secret is
replaced by `<secret:DetectorName>` and the rest of the line is kept; a private key
block is replaced from its BEGIN line to its END line. In `drop` mode an example
holding a secret is not stored and counts as skipped for the reason `secret`.

Cost: detect-secrets runs its plugins and filters per line (~100 µs a line), setting
them up costs ~1 ms and its import pulls in `requests` (~120 ms). So a prefilter,
`_maybe`, first asks whether anything an enabled plugin matches could be in an example
(a superset: each test below names the plugins it stands in for), then which lines;
only those go to detect-secrets, imported on first use. Measured: 17 µs an example on
the demo, 37 µs on rust-lang/log (2.2 KB an example; none of its 261k lines pass).

What it does not do: scan files on disk, verify secrets online, or scan commit
messages outside examples (the message reaches the dataset only as a segment).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache

from indexer.errors import IndexerError
from indexer.shapes import SECRET_SKIP

if TYPE_CHECKING:
    import pygit2

    from indexer.git import CommitInfo
    from indexer.shapes import Built, Example

MODES = ("redact", "drop")
DEFAULT_MODE = "redact"
CONFIG_KEY = "commit-indexer.secrets"

# detect-secrets plugins by class name. Left out: the generic high-entropy plugins
# (every hash, test vector and base64 constant in code would be a finding; a
# high-entropy value assigned to a secret-looking name is KeywordDetector's with the
# entropy floor below) and IPPublicDetector (an address is not a credential).
PLUGINS = (
    "ArtifactoryDetector",
    "AWSKeyDetector",
    "AzureStorageKeyDetector",
    "BasicAuthDetector",
    "CloudantDetector",
    "DiscordBotTokenDetector",
    "GitHubTokenDetector",
    "GitLabTokenDetector",
    "IbmCloudIamDetector",
    "IbmCosHmacDetector",
    "JwtTokenDetector",
    "KeywordDetector",
    "MailchimpDetector",
    "NpmDetector",
    "OpenAIDetector",
    "PrivateKeyDetector",
    "PypiTokenDetector",
    "SendGridDetector",
    "SlackDetector",
    "SoftlayerDetector",
    "SquareOAuthDetector",
    "StripeDetector",
    "TelegramBotTokenDetector",
    "TwilioKeyDetector",
)
# Ours, loaded through detect-secrets' plugin interface from this file.
OWN_PLUGINS = (
    "EnvAssignmentDetector",
    "GitHubFineGrainedTokenDetector",
    "GoogleApiKeyDetector",
    "RustSecretBindingDetector",
)
_OWN_PLUGINS_FILE = Path(__file__).with_name("secret_plugins.py")
# The plugins whose findings are a name and a value: a value counts only from the
# entropy below.
_ASSIGNMENTS = ("KeywordDetector", "RustSecretBindingDetector", "EnvAssignmentDetector")

# Names a credential goes by, in any case (`DB_PASSWORD`, `apiKey`, `auth_token`).
_NAME = (
    r"[A-Za-z0-9_]*(?i:passw|pwd|secret|token|api_?key|access_?key|private_?key|credential)"
    r"[A-Za-z0-9_]*"
)
# A literal: "…", or a raw string r"…" / r#"…"#, of 6 characters or more, on one line.
_LITERAL = r'r?#*"([^"\\\n]{6,})"'
# RustSecretBindingDetector's: a literal bound to such a name the way Rust writes it,
# where the keyword plugin's `name = "value"` does not match: a typed binding
# (`const DB_PASSWORD: &str = "…"`), a constructor (`let key = String::from("…")`),
# a builder's setter (`.password("…")`). One group each, the secret.
RUST_BINDINGS = (
    re.compile(
        rf"\b(?:const|static|let)\s+(?:mut\s+)?{_NAME}\s*(?::\s*[^=;\n]{{1,60}})?=\s*"
        rf"(?:[\w:]{{1,40}}(?:!|::from|::new)?\(\s*)?&?{_LITERAL}"
    ),
    re.compile(
        r"\.(?:password|passwd|token|api_key|secret|bearer_auth|access_key|private_key)"
        rf"\(\s*(?:Some\(\s*)?{_LITERAL}"
    ),
)
# EnvAssignmentDetector's: an unquoted `NAME=value` line (a `.env` file in a raw
# string, `export AWS_SECRET_ACCESS_KEY=…` in a commit message).
ENV_ASSIGNMENT = re.compile(
    rf"^[ \t]*(?:export[ \t]+)?{_NAME}[ \t]*=[ \t]*([^\s\"'`;(){{}}\[\]<>,=]{{8,}})[ \t]*$",
    re.MULTILINE,
)
_CREDENTIAL_NAMES = ("passw", "pwd", "secret", "token", "key", "credential")
# E-mail addresses are personal data, not credentials: replaced by EMAIL wherever they
# are (messages' Co-authored-by and Signed-off-by, authors in doc comments), and
# neither counted as a secret nor a reason to drop an example.
EMAIL = "<email>"
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# Its domain part, led by the "@": searched first, since `_EMAIL` tries its local part
# at every position of a text. An "@" in Rust is mostly a pattern binding (`n @ 1..=9`)
# or a macro's rule (`(@arg ...)`), with no domain after it.
_EMAIL_DOMAIN = re.compile(r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# A value assigned to a secret-looking name (`api_key = "..."`) counts only from this
# Shannon entropy (bits a character, base64 alphabet) up: "hunter2" or "changeme" in a
# test is not a credential worth a redaction, "x8Fq2LzP0vW9rT4m" is.
KEYWORD_MIN_ENTROPY = 3.0

# The prefilter: a superset of what the enabled plugins match, each test naming the
# plugins it stands in for. It is made of passes that are fast in CPython: substring
# tests, regexes that start with one literal character or string (an alternation whose
# branches start differently is tried branch by branch at every position, ten times
# slower), and one translation to find long runs of token characters.
_LED = tuple(
    re.compile(pattern)
    for pattern in (
        # AWS, Azure, Artifactory, TwilioKey
        r"A(?:3T|BIA|CCA|KIA|SIA|ccountKey=|KC[a-zA-Z0-9]{10}|P[\dA-F][a-zA-Z0-9]{8}"
        r"|C[a-z0-9]{32})",
        r"SK[a-z0-9]{32}",  # TwilioKey
        r"P(?:RIVATE KEY|uTTY-User-Key)",  # PrivateKey
        r"gh[pousr]_",  # GitHubToken
        r"gl[a-z]{2,6}-[\w-]{20}",  # GitLabToken (not a path like `glob-glob.rs`)
        r"SG\.[\w-]{22}\.",  # SendGrid (not `MSG.find`)
        r"xox[abposr]-",  # Slack
        r"-us\d",  # Mailchimp
        # BasicAuth's own regex (a URL with user:password@), not every URL in the docs
        r"://[^:/?#\[\]@!$&'()*+,;=\s]+:[^:/?#\[\]@!$&'()*+,;=\s]+@",
    )
)
_LITERALS = (
    "hooks.slack.com",  # Slack webhooks (SoftLayer's and Cloudant's URLs: by name)
    "_authToken",  # Npm
    "GR1348941",  # GitLabToken
    "eyJ",  # JwtToken
    "T3BlbkFJ",  # OpenAI
    "pypi-",  # PypiToken
    "sq0csp-",  # SquareOAuth
    "k_live_",  # Stripe
    "github_pat_",  # GitHubFineGrainedToken
    "AIza",  # GoogleApiKey
)
# Lowercased: AWS's, Cloudant's and SoftLayer's names; KeywordDetector's (with a quote
# on the line: its rules for code need one) are "passw", "pwd", "secret", "contrase"
# and the *key and *pass names of _KEY_NAMES_REVERSED ("passed" in the docs is not one).
_LOWER_LITERALS = ("aws", "cloudant", "softlayer")
_LOWER_LED = tuple(
    re.compile(pattern)
    for pattern in (
        r"cl(?:ou)?[_-]?(?:api)?(?:key|pw|pass|token)",  # Cloudant
        r"sl[_-]?(?:api)?[_-]?(?:key|pwd|pass|token)",  # Softlayer
    )
)
_NAMES = ("passw", "pwd", "secret", "contrase")
# Searched in the reversed text, so that each regex starts with a literal ("yek", "ssap").
_KEY_NAMES_REVERSED = (
    re.compile(r"yek_?(?:ipa|htua|ecivres|tnuocca|bd|esabatad|virp|etavirp|tneilc)"),
    re.compile(r"ssap_?(?:bd|esabatad|yek)"),
)
_QUOTES = ("'", '"', "`")
# Long values, found on a translation of the text: token characters [A-Za-z0-9_-]
# become "a"; "." and ":" stay; what may stand before an assigned value (= > quotes
# space) becomes a space; anything else "#". Each run is the shape of a whole token, so
# a long test name or a line of disassembly in a commit message does not match (those
# were the only lines of rust-lang/log's history to pass the prefilter, and each
# worker that met one paid 0.15 s to import detect-secrets).
_RUN_CLASSES = bytes(
    ord("a")
    if chr(i).isascii() and (chr(i).isalnum() or chr(i) in "_-")
    else i
    if chr(i) in ".:"
    else ord(" ")
    if chr(i) in "=>\"' \t"
    else ord("#")
    for i in range(256)
)
_RUNS = (
    b"a" * 24 + b"." + b"a" * 6 + b"." + b"a" * 27,  # DiscordBotToken
    b"a" * 8 + b":" + b"a" * 35,  # TelegramBotToken
)
# IbmCloudIam (44 characters) and IbmCosHmac (48): a value assigned (`=`, `:`, quotes,
# spaces) to a name holding one of these, in any case.
_ASSIGNED_RUNS = (b" " + b"a" * 44, b":" + b"a" * 44)
_ASSIGNED_NAMES = ("key", "pwd", "pass", "token")


def _maybe(text: str) -> bool:
    """Whether an enabled plugin could match anything in `text`: False for most code."""
    if any(literal in text for literal in _LITERALS) or any(r.search(text) for r in _LED):
        return True
    classes = text.encode("utf-8", "surrogatepass").translate(_RUN_CLASSES)
    if any(run in classes for run in _RUNS):
        return True
    lower = text.lower()
    if any(run in classes for run in _ASSIGNED_RUNS) and any(
        name in lower for name in _ASSIGNED_NAMES
    ):
        return True
    if any(name in lower for name in _LOWER_LITERALS) or any(r.search(lower) for r in _LOWER_LED):
        return True
    if any(name in lower for name in _CREDENTIAL_NAMES) and (
        ENV_ASSIGNMENT.search(text) or any(r.search(text) for r in RUST_BINDINGS)
    ):
        return True  # RustSecretBinding and EnvAssignment: their own regexes
    if not any(quote in text for quote in _QUOTES):
        return False
    if any(name in lower for name in _NAMES):
        return True
    backwards = lower[::-1]
    return any(r.search(backwards) for r in _KEY_NAMES_REVERSED)


@lru_cache(maxsize=2048)  # it keeps the texts: ~2 KB each
def _maybe_segment(text: str) -> bool:
    """`_maybe`, remembered: an example's context definitions, imports and message
    recur in the examples around it, and a text passes or fails whole."""
    return _maybe(text)


# The few texts that pass it recur (a struct with a `secret` field is context for every
# change around it, and its lines are scanned one by one): each is scanned once.
_SCANNED: LRUCache[str, tuple[str, tuple[tuple[str, int], ...]]] = LRUCache(
    1_000_000, lambda scanned: len(scanned[0])
)

_TOKEN = re.compile(r"[\w\-.+/=]+")
_PEM_BLOCK = re.compile(
    r"-*BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-*(?P<body>.*?)"
    r"(?:-*END [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-*|\Z)",
    re.DOTALL,
)
_KEY_MATERIAL = re.compile(r"[A-Za-z0-9+/=]{32,}")


@dataclass(frozen=True)
class Finding:
    detector: str  # the plugin's class name
    where: str  # "target" or the segment's kind
    line: int  # 1-based, in that text


def mode_of(repo: pygit2.Repository) -> str:
    """The mode set with `git config commit-indexer.secrets redact|drop` (default redact)."""
    try:
        value = repo.config[CONFIG_KEY]
    except KeyError:
        return DEFAULT_MODE
    return check_mode(value.strip().lower(), f"git config {CONFIG_KEY}")


def check_mode(mode: str, where: str = "--secrets") -> str:
    if mode not in MODES:
        raise IndexerError(
            f"{where} is {mode!r}, not one of {', '.join(MODES)}",
            hint=f"use `git config {CONFIG_KEY} redact` (the default) or `drop`",
        )
    return mode


def screen(built: Built, mode: str) -> Built:
    """`built` with every example scanned: redacted, or dropped and counted."""
    check_mode(mode)
    with _Scanner() as scanner:
        kept: list[Example] = []
        for example in built.examples:
            cleaned, findings = scanner.example(example)
            if not findings:
                kept.append(example)
            elif mode == "drop":
                built.skipped[SECRET_SKIP] += 1
            else:
                kept.append(cleaned)
        built.examples = kept
    return built


def redact_commit(info: CommitInfo) -> CommitInfo:
    """The commit as the store keeps it: its message with secrets and e-mail addresses
    redacted, and no author e-mail (git still has both; no export needs them)."""
    with _Scanner() as scanner:
        message = scanner.redact(info.message)
    return dataclasses.replace(info, message=message, author_email=EMAIL)


def _without_emails(example: Example) -> Example:
    """The example with its e-mail addresses replaced; the example itself if it has
    none (an "@" is rare in code, and the test costs nothing). Only the texts with an
    "@" are searched: one in a pattern (`n @ 1..=9`) leaves the others as they are."""
    texts = [example.target, *(t for s in example.segments for t in (s.text, *s.variants))]
    if not any("@" in text for text in texts):
        return example
    segments = tuple(
        dataclasses.replace(s, text=_no_emails(s.text), variants=tuple(map(_no_emails, s.variants)))
        for s in example.segments
    )
    return dataclasses.replace(example, segments=segments, target=_no_emails(example.target))


def _no_emails(text: str) -> str:
    return _EMAIL.sub(EMAIL, text) if "@" in text and _EMAIL_DOMAIN.search(text) else text


def scan_example(example: Example) -> tuple[Example, tuple[Finding, ...]]:
    """The example with its secrets redacted (`secrets` names their detectors), and
    what was found; the example itself when nothing was."""
    with _Scanner() as scanner:
        return scanner.example(example)


def might_hold_secrets(text: str) -> bool:
    """Whether `text` may hold anything to redact: False for most code (a superset of
    what `redact_texts` replaces, remembered for the last texts asked about), so a
    text and every part of it need no scan."""
    return _maybe_segment(text) or ("@" in text and _EMAIL_DOMAIN.search(text) is not None)


def redact_texts(texts: Iterable[str]) -> Iterator[str]:
    """Each text with its secrets and e-mail addresses replaced: what the native
    tokenizer trains on, since its pieces ship in every export."""
    with _Scanner() as scanner:
        for text in texts:
            yield scanner.redact(text)


class _Scanner:
    """detect-secrets' settings are process-wide: they are set (lazily, on the first
    candidate line) for one batch of examples and restored after it."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._scan_line: Any = None
        self._plugins: dict[str, Any] = {}
        self._entropy: Any = None

    def __enter__(self) -> _Scanner:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def example(self, example: Example) -> tuple[Example, tuple[Finding, ...]]:
        # A variant is its text's lines (some cut before the body) with fixed elisions
        # (`{ .. }`, `// ...`): a plugin can match in it only where it can in its text.
        texts = [example.target, *(segment.text for segment in example.segments)]
        if not any(map(_maybe_segment, texts)):
            return _without_emails(example), ()  # the common case: the example itself
        findings: list[Finding] = []
        in_variants: list[Finding] = []  # a variant's lines are its text's: counted once
        segments = []
        for segment in example.segments:
            text = self._text(segment.text, segment.kind, findings)
            variants = tuple(self._text(v, segment.kind, in_variants) for v in segment.variants)
            segments.append(dataclasses.replace(segment, text=text, variants=variants))
        target = self._text(example.target, "target", findings)
        found = tuple(findings or in_variants)
        if not found:
            return _without_emails(example), ()
        secrets = tuple(f.detector for f in found)
        # A secret in a file's name is redacted in the record's path too, not only in
        # the path segment.
        path = next((s.text for s in segments if s.kind == "path"), example.path)
        cleaned = dataclasses.replace(
            example, path=path, segments=tuple(segments), target=target, secrets=secrets
        )
        return _without_emails(cleaned), found

    def redact(self, text: str) -> str:
        """`text` with its secrets and e-mail addresses replaced."""
        return _EMAIL.sub(EMAIL, self._text(text, "text", []))

    def _text(self, text: str, where: str, findings: list[Finding]) -> str:
        if not text or not _maybe_segment(text):  # `example` just asked: cached
            return text  # the common case: nothing a plugin could match
        scanned = _SCANNED.get(text)
        if scanned is None:
            scanned = self._scan(text)
            with suppress(ValueError):  # larger than the whole cache: not kept
                _SCANNED[text] = scanned
        out, found = scanned
        findings.extend(Finding(detector, where, line) for detector, line in found)
        return out

    def _scan(self, text: str) -> tuple[str, tuple[tuple[str, int], ...]]:
        """`text` redacted, line by line, and each finding's detector and line."""
        lines = text.splitlines(keepends=True)
        findings: list[tuple[str, int]] = []
        changed = False
        private_key = False
        for n, line in enumerate(lines):
            if not _maybe(line):
                continue
            found = list(self._line(line))
            if not found:
                continue
            spans = []
            for detector, value in found:
                if detector == "PrivateKeyDetector":
                    private_key = True  # a block spans lines: handled on the whole text
                    continue
                findings.append((detector, n + 1))
                spans.extend(
                    (start, end, detector) for start, end in self._spans(line, detector, value)
                )
            if spans:
                lines[n] = _replace(line, spans)
                changed = True
        out = "".join(lines) if changed else text
        if private_key:
            out = _private_keys(out, findings)
        return out, tuple(findings)

    def _line(self, line: str) -> Iterator[tuple[str, str]]:
        """(detector, secret value) of each finding detect-secrets makes on `line`."""
        if self._scan_line is None:
            self._start()
        for secret in self._scan_line(line.rstrip("\r\n")):
            detector = self._by_type[secret.type]
            value = secret.secret_value or ""
            if not value:
                continue
            if detector in _ASSIGNMENTS and self._entropy(value) < KEYWORD_MIN_ENTROPY:
                continue
            yield detector, value

    def _spans(self, line: str, detector: str, value: str) -> list[tuple[int, int]]:
        """Where `value` sits in `line`. A token plugin may report only a group of its
        match (GitHubTokenDetector reports `ghp`): then the whole match, when the match
        is one token, is the secret; otherwise (`://user:PASSWORD@`) the group is."""
        spans = []
        for regex in getattr(self._plugins[detector], "denylist", ()):
            for match in regex.finditer(line):
                for group in range(regex.groups + 1):
                    if match.group(group) == value:
                        whole = _TOKEN.fullmatch(match.group(0)) is not None
                        spans.append(match.span(0) if whole else match.span(group))
                        break
        if not spans:  # KeywordDetector has no denylist of its own: every occurrence
            start = line.find(value)
            while start >= 0:
                spans.append((start, start + len(value)))
                start = line.find(value, start + len(value))
        return spans

    def _start(self) -> None:
        # Imported here: `requests` comes with them, and most syncs never get here.
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.core.scan import scan_line
        from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString
        from detect_secrets.settings import transient_settings

        path = _OWN_PLUGINS_FILE.as_uri()
        used = [{"name": name} for name in PLUGINS]
        used += [{"name": name, "path": path} for name in OWN_PLUGINS]
        self._stack.enter_context(transient_settings({"plugins_used": used}))
        classes = get_mapping_from_secret_type_to_class()
        self._by_type = {kind: cls.__name__ for kind, cls in classes.items()}
        mine = PLUGINS + OWN_PLUGINS
        self._plugins = {cls.__name__: cls() for cls in classes.values() if cls.__name__ in mine}
        self._entropy = Base64HighEntropyString().calculate_shannon_entropy
        self._scan_line = scan_line


def _private_keys(text: str, findings: list[tuple[str, int]]) -> str:
    """Each PEM block from BEGIN to END (or the end of the text) becomes one
    placeholder. A header with no key material after it (a parser's constant
    `"-----BEGIN RSA PRIVATE KEY-----"`) is code, not a key, and stays."""
    parts, cursor = [], 0
    for match in _PEM_BLOCK.finditer(text):
        if _KEY_MATERIAL.search(match.group("body")) is None:
            continue
        findings.append(("PrivateKeyDetector", text.count("\n", 0, match.start()) + 1))
        parts.append(text[cursor : match.start()])
        parts.append(_placeholder("PrivateKeyDetector"))
        cursor = match.end()
    return "".join(parts) + text[cursor:] if parts else text


def _placeholder(detector: str) -> str:
    return f"<secret:{detector}>"


def _replace(line: str, spans: list[tuple[int, int, str]]) -> str:
    """`line` with each span replaced by its placeholder; overlapping spans merge."""
    merged: list[list[Any]] = []
    for start, end, detector in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end, detector])
    out, cursor = [], 0
    for start, end, detector in merged:
        out.append(line[cursor:start])
        out.append(_placeholder(detector))
        cursor = end
    out.append(line[cursor:])
    return "".join(out)
