"""The dataset as it stands at a commit: the stored examples of every commit reachable
from it, tokenized (once per tokenizer and template, cached in the store), fitted to
a token budget, split, and handed to `export.write_export` as records.

It reads what sync wrote and never parses or builds examples itself.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indexer import git
from indexer.dataset.budget import EncodedExample, SkipReason, encode_example, fit, get_template
from indexer.dataset.card import dataset_card
from indexer.dataset.dedup import DEFAULT_THRESHOLD, Dedup
from indexer.dataset.export import DEFAULT_RATIOS, Manifest, split_of, time_splits, write_export
from indexer.dataset.tokenizer import Tokenizer, load_tokenizer, train_native
from indexer.errors import IndexerError
from indexer.index.secrets import SKIP_REASON
from indexer.shapes import Example, Segment
from indexer.store import Target, translate_errors
from indexer.store.commits import known_commits
from indexer.store.examples import (
    StoredExample,
    StoredTokenizer,
    add_tokenizer,
    cached_tokens,
    example_skips,
    examples_of,
    repo_tokenizer,
    save_tokens,
    set_repo_tokenizer,
)

if TYPE_CHECKING:
    from sqlalchemy import Connection

COMMITS_PER_CHUNK = 256  # examples are read, tokenized and cached this many commits at a time


@dataclass(frozen=True)
class TokenizerInfo:
    name: str
    kind: str
    sha256: str
    vocab_size: int
    template: str


def _info(tokenizer: Tokenizer, template: str) -> TokenizerInfo:
    return TokenizerInfo(
        tokenizer.name, tokenizer.kind, tokenizer.sha256, tokenizer.vocab_size, template
    )


def _store_tokenizer(target: Target, tokenizer: Tokenizer, template: str) -> TokenizerInfo:
    get_template(template)  # an unknown template fails before anything is stored
    encode_example(  # so does a tokenizer that lacks the template's tokens
        Example("0" * 40, None, "x.rs", "fn", "x", "x", "added", (), "fn x() {}"),
        tokenizer,
        template,
    )
    with translate_errors(target.store.url), target.store.connect() as conn:
        tid = add_tokenizer(
            conn, tokenizer.sha256, tokenizer.name, tokenizer.kind, tokenizer.to_bytes()
        )
        set_repo_tokenizer(conn, target.repo_id, tid, template)
    return _info(tokenizer, template)


def train_tokenizer(
    target: Target, vocab_size: int = 8000, rev: str = "HEAD", template: str = "native"
) -> TokenizerInfo:
    """Train the native SentencePiece model on the `.rs` files at `rev` and use it."""
    commit = git.resolve_commit(target.repo, rev)
    texts = []
    for _path, blob in sorted(git.rust_files_at(target.repo, commit).items()):
        try:
            texts.append(target.repo[blob].data.decode("utf-8"))
        except UnicodeDecodeError:
            continue
    if not texts:
        raise IndexerError(
            f"there is no Rust code at {rev} to train a tokenizer on",
            hint="bring your model's tokenizer with `commit-indexer tokenizer use PATH`",
        )
    return _store_tokenizer(target, train_native(texts, vocab_size), template)


def use_tokenizer(target: Target, path: Path, template: str = "native") -> TokenizerInfo:
    """Use a model's own tokenizer (a SentencePiece `.model` or a `tokenizer.json`)."""
    return _store_tokenizer(target, load_tokenizer(path), template)


def _tokenizer_for(target: Target, template: str | None) -> tuple[StoredTokenizer, Tokenizer, str]:
    with translate_errors(target.store.url), target.store.connect() as conn:
        stored = repo_tokenizer(conn, target.repo_id)
    if stored is None:
        # The default after a backfill: a native model trained on the repo's code.
        train_tokenizer(target)
        with target.store.connect() as conn:
            stored = repo_tokenizer(conn, target.repo_id)
    assert stored is not None
    tokenizer = Tokenizer.from_bytes(stored.kind, stored.data, stored.name)
    return stored, tokenizer, template or stored.template


def _example(row: StoredExample) -> Example:
    return Example(
        commit=row.commit,
        parent=row.parents.split()[0] if row.parents else None,
        path=row.path,
        kind=row.kind,
        name=row.name,
        qualname=row.qualname,
        change=row.change,
        segments=tuple(Segment(k, t, v) for k, t, v in row.segments),
        target=row.target,
    )


def _record_id(e: StoredExample) -> str:
    key = "\0".join((e.commit, e.path, e.kind, e.qualname)).encode()
    return hashlib.sha256(key).hexdigest()[:16]


def export_snapshot(
    target: Target,
    out: Path,
    fmt: str = "jsonl",
    at: str = "HEAD",
    template: str | None = None,
    max_tokens: int = 2048,
    split: str = "hash",
    on_progress: Callable[[int, int], None] | None = None,
    dedup: str = "exact",
    near_threshold: float = DEFAULT_THRESHOLD,
) -> Manifest:
    """Write the examples of the commits reachable from `at` to `out`, with a dataset
    card (README.md) and the manifest; duplicates left out as `dedup` says.

    The same store and arguments give byte-identical files.
    """
    if split not in ("hash", "time"):
        raise IndexerError(f"unknown split '{split}'", hint="use --split hash or --split time")
    duplicates = Dedup(dedup, near_threshold)
    at_oid = str(git.resolve_commit(target.repo, at).id)
    commits, _unreadable = git.walk(target.repo, [at_oid], ())
    with translate_errors(target.store.url), target.store.connect() as conn:
        missing = len(commits) - len(known_commits(conn, target.repo_id, commits))
    if missing:
        raise IndexerError(
            f"{missing} commits reachable from {at} are not indexed yet",
            hint="run `commit-indexer backfill` first",
        )
    stored, tokenizer, template_name = _tokenizer_for(target, template)
    splits: dict[str, str] | None = None
    if split == "time":
        dates = [(oid, target.repo[oid].commit_time) for oid in commits]
        splits = time_splits(dates)
    skips: Counter[str] = Counter()
    fits: Counter[str] = Counter()
    extra: dict[str, Any] = {
        "at": at_oid,
        "repo": _repo_name(target),
        "tokenizer": {
            "name": stored.name,
            "kind": stored.kind,
            "sha256": stored.sha256,
            "vocab_size": tokenizer.vocab_size,
        },
        "settings": {
            "template": template_name,
            "max_tokens": max_tokens,
            "split": split,
            "ratios": dict(DEFAULT_RATIOS),
        },
        "skips": skips,  # filled while the records stream; written last
        "context": fits,
        "dedup": duplicates.info,
        "secrets": {
            "dropped_examples": 0,  # skips for the reason "secret"
            "redacted_examples": 0,  # among those exported
            "redacted_secrets": 0,
            "redacted": Counter(),  # by detector
        },
    }
    with translate_errors(target.store.url), target.store.connect() as conn:
        records = _records(
            conn,
            target,
            commits,
            stored.id,
            tokenizer,
            template_name,
            max_tokens,
            splits,
            skips,
            fits,
            extra["repo"],
            on_progress,
            duplicates,
            extra["secrets"],
        )
        manifest = write_export(out, records, fmt, extra, card=dataset_card)
    return manifest


def _repo_name(target: Target) -> str:
    workdir = target.repo.workdir
    return Path(workdir).name if workdir else git.common_dir(target.repo).name


def _records(
    conn: Connection,
    target: Target,
    commits: list[str],
    tokenizer_id: int,
    tokenizer: Tokenizer,
    template: str,
    max_tokens: int,
    splits: dict[str, str] | None,
    skips: Counter[str],
    fits: Counter[str],
    repo_name: str,
    on_progress: Callable[[int, int], None] | None,
    duplicates: Dedup,
    secrets: dict[str, Any],
) -> Iterator[dict[str, Any]]:
    skips.update(example_skips(conn, target.repo_id))
    secrets["dropped_examples"] = skips.get(SKIP_REASON, 0)
    for start in range(0, len(commits), COMMITS_PER_CHUNK):
        chunk = commits[start : start + COMMITS_PER_CHUNK]
        order = {oid: n for n, oid in enumerate(chunk)}
        rows = examples_of(conn, target.repo_id, chunk)
        rows.sort(key=lambda e: (order[e.commit], e.path, e.kind, e.qualname))
        cached = cached_tokens(conn, [e.id for e in rows], tokenizer_id, template)
        new: dict[int, bytes] = {}
        for row in rows:
            candidate = duplicates.check(row.content_id, row.target)
            if candidate.duplicate:
                continue
            if row.id in cached:
                encoded = EncodedExample.from_bytes(cached[row.id])
            else:
                encoded = encode_example(_example(row), tokenizer, template)
                new[row.id] = encoded.to_bytes()
            fitted = fit(encoded, max_tokens)
            if isinstance(fitted, SkipReason):
                skips[fitted.reason] += 1
                continue
            fits["whole" if fitted.fits_whole else "shortened_or_dropped"] += 1
            candidate.keep()
            if row.secrets:
                secrets["redacted_examples"] += 1
                secrets["redacted_secrets"] += len(row.secrets)
                secrets["redacted"].update(row.secrets)
            segments = [
                {"kind": kind, "text": text if choice == 0 else variants[choice - 1]}
                for (kind, text, variants), choice in zip(row.segments, fitted.choices, strict=True)
                if choice is not None and (text if choice == 0 else variants[choice - 1])
            ]
            yield {
                "id": _record_id(row),
                "repo": repo_name,
                "commit": row.commit,
                "parent": row.parents.split()[0] if row.parents else None,
                "date": row.date,
                "path": row.path,
                "kind": row.kind,
                "name": row.name,
                "qualname": row.qualname,
                "change": row.change,
                "split": splits[row.commit] if splits else split_of(row.commit),
                "segments": segments,
                "target": row.target,
                "input_ids": list(fitted.input_ids),
                "labels": list(fitted.labels),
                "attention_mask": list(fitted.attention_mask),
                "n_tokens": fitted.n_tokens,
            }
        save_tokens(conn, tokenizer_id, template, new)
        if on_progress:
            on_progress(min(start + COMMITS_PER_CHUNK, len(commits)), len(commits))
