"""detect-secrets plugins of our own, for what its 1.5 plugins miss in Rust histories.

Loaded by detect-secrets itself, from this file's path (`secrets._Scanner._start`
names it in `plugins_used`), never imported by the indexer. Each regex has exactly
one group, the secret: `RegexBasedDetector` reports each group it finds. The regexes of
the last two live in `secrets.py`, whose prefilter (`_maybe`) runs them as they are.
"""

from __future__ import annotations

import re

from detect_secrets.plugins.base import RegexBasedDetector

from indexer.secrets import ENV_ASSIGNMENT, RUST_BINDINGS


class GitHubFineGrainedTokenDetector(RegexBasedDetector):
    """GitHub's fine-grained personal access tokens (detect-secrets knows `ghp_` only)."""

    secret_type = "GitHub Fine-Grained Token"
    denylist = (re.compile(r"(github_pat_[0-9A-Za-z_]{82})"),)


class GoogleApiKeyDetector(RegexBasedDetector):
    """Google API keys (Maps, Firebase, Cloud): `AIza` and 35 characters."""

    secret_type = "Google API Key"
    denylist = (re.compile(r"(AIza[0-9A-Za-z_\-]{35})(?![0-9A-Za-z_\-])"),)


class RustSecretBindingDetector(RegexBasedDetector):
    """A literal bound to a credential's name the way Rust writes it, where the
    keyword plugin's `name = "value"` does not match: a typed binding
    (`const DB_PASSWORD: &str = "…"`, `let token: &str = …`), a constructor
    (`let api_key = String::from("…")`), a builder's setter (`.password("…")`)."""

    secret_type = "Rust Secret Binding"
    denylist = RUST_BINDINGS


class EnvAssignmentDetector(RegexBasedDetector):
    """An unquoted `NAME=value` line: a `.env` file inside a raw string, a shell
    `export AWS_SECRET_ACCESS_KEY=…` in a commit message."""

    secret_type = "Env Assignment"
    denylist = (ENV_ASSIGNMENT,)
