"""The dataset as it stands at a commit: the stored examples of every commit reachable
from it, tokenized (once per tokenizer and template, cached in the store), fitted to
a token budget, split, and handed to `export.write_export` as records.

It reads what sync wrote and never parses or builds examples itself.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indexer import git
from indexer.dataset.budget import (
    TEMPLATES,
    EncodedExample,
    Fitted,
    SkipReason,
    encode_example,
    end_token,
    fit,
    fitting_templates,
    get_template,
    kept_parts,
    prompt_and_completion,
    split_text,
)
from indexer.dataset.card import dataset_card
from indexer.dataset.curate import BULK, CLONES, Curation, Funnel
from indexer.dataset.dedup import DEFAULT_THRESHOLD, Candidate, Dedup
from indexer.dataset.export import (
    DEFAULT_SHARD_BYTES,
    PACKED_KEYS,
    RECORD_KEYS,
    Manifest,
    pack,
    split_of,
    time_splits,
    write_export,
)
from indexer.dataset.fim import Files, fit_fim
from indexer.dataset.source import source_of
from indexer.dataset.splits import (
    DEFAULT_RATIOS,
    DEFAULT_RULE,
    Clones,
    Lineages,
    Ratios,
    check_rule,
    lineage_key,
    off_ratio,
)
from indexer.dataset.tokenizer import (
    BLOCK_TOKENS,
    END_OF_TEXT_TOKENS,
    PAD,
    Tokenizer,
    load_tokenizer,
    model_files,
    train_native,
)
from indexer.dataset.units import (
    ITEM_TOO_LONG,
    Unit,
    UnitItem,
    fit_unit,
    make_unit,
    part_note,
    parts_by_file,
    unit_parts,
)
from indexer.errors import IndexerError
from indexer.rust import SUFFIX
from indexer.shapes import (
    BUILDER_VERSION,
    DEFINITION_PREFIXES,
    EDIT_PREFIX,
    MESSAGE,
    OLD,
    SECRET_SKIP,
    Example,
    Segment,
)
from indexer.store import Target, translate_errors
from indexer.store.commits import known_commits
from indexer.store.examples import (
    ExampleHead,
    StoredExample,
    StoredTokenizer,
    add_tokenizer,
    cached_tokens,
    commit_notes,
    example_heads,
    example_skips,
    examples_of,
    examples_version,
    item_places,
    renames,
    repo_tokenizer,
    save_tokens,
    set_repo_tokenizer,
)

if TYPE_CHECKING:
    from sqlalchemy import Connection

COMMITS_PER_CHUNK = 256  # examples are read, tokenized and cached this many commits at a time
# `export --context`: the segment kinds each leaves out. `none`: no definition from
# another file; `no-edits`: not those the same commit edits (`EDIT_PREFIX`).
CONTEXT_MODES: dict[str, tuple[str, ...]] = {
    "full": (),
    "none": DEFINITION_PREFIXES,
    "no-edits": (EDIT_PREFIX,),
}
MESSAGE_MODES: dict[str, tuple[str, ...]] = {"full": (), "subject": (MESSAGE,)}
TARGETS = ("item", "edit", "fim")  # `export --target`
UNITS = ("item", "commit")  # `export --unit`


@dataclass(frozen=True)
class TokenizerInfo:
    name: str
    kind: str
    sha256: str
    vocab_size: int
    template: str
    inferred: bool = False  # the template was chosen from the tokenizer's vocabulary


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
    target: Target, vocab_size: int | None = None, rev: str = "HEAD", template: str = "native"
) -> TokenizerInfo:
    """Train the native SentencePiece model on the `.rs` files at `rev` and use it."""
    commit = git.resolve_commit(target.repo, rev)
    texts = []
    for _path, blob in sorted(git.source_files_at(target.repo, commit, SUFFIX).items()):
        try:
            texts.append(target.repo[blob].data.decode("utf-8"))
        except UnicodeDecodeError:
            continue
    if not texts:
        raise IndexerError(
            f"there is no Rust code at {rev} to train a tokenizer on",
            hint="bring your model's tokenizer with `commit-indexer tokenizer use PATH`",
        )
    from indexer.secrets import redact_texts  # only where a tokenizer is trained

    # its pieces ship in every export: trained on the code with its secrets redacted
    return _store_tokenizer(target, train_native(redact_texts(texts), vocab_size), template)


def use_tokenizer(target: Target, path: Path, template: str | None = None) -> TokenizerInfo:
    """Use a model's own tokenizer (a SentencePiece `.model` or a `tokenizer.json`, or
    a folder holding one), with `template`, or else the first template whose special
    tokens its vocabulary has (`TokenizerInfo.inferred`)."""
    tokenizer = load_tokenizer(path)
    if template is not None:
        return _store_tokenizer(target, tokenizer, template)
    fits = fitting_templates(tokenizer)
    if not fits:
        raise IndexerError(
            f"tokenizer {tokenizer.name} has the special tokens of none of the templates"
            f" ({', '.join(TEMPLATES)}): not even an end-of-text token",
            hint="the native template goes with `commit-indexer tokenizer train`,"
            " `--template starcoder` with StarCoder-family tokenizers and `--template plain`"
            f" with one that has one of {', '.join(END_OF_TEXT_TOKENS)}",
        )
    return dataclasses.replace(_store_tokenizer(target, tokenizer, fits[0]), inferred=True)


def ensure_tokenizer(target: Target) -> TokenizerInfo | None:
    """The default after a backfill: a repo without a tokenizer gets the native one,
    trained on its code at HEAD. Its info; None when the repo had one already."""
    with translate_errors(target.store.url), target.store.connect() as conn:
        if repo_tokenizer(conn, target.repo_id) is not None:
            return None
    return train_tokenizer(target)


def _tokenizer_for(target: Target, template: str | None) -> tuple[StoredTokenizer, Tokenizer, str]:
    ensure_tokenizer(target)
    with translate_errors(target.store.url), target.store.connect() as conn:
        stored = repo_tokenizer(conn, target.repo_id)
    assert stored is not None
    tokenizer = Tokenizer.from_bytes(stored.kind, stored.data, stored.name)
    return stored, tokenizer, template or stored.template


def _check_one_store(targets: Sequence[Target], sha256: str) -> None:
    """Several repos export together from one store, with the first one's tokenizer:
    a repo of another store, or with a tokenizer of its own, is refused."""
    first = targets[0]
    for each in targets[1:]:
        if each.store.url != first.store.url:
            raise IndexerError(
                f"{each.store.shown_url} is not {first.store.shown_url}: the repos of one"
                " export must share a store",
                hint="give every repo the same `--db URL` (backfill each into it first)",
            )
        with translate_errors(each.store.url), each.store.connect() as conn:
            own = repo_tokenizer(conn, each.repo_id)
        if own is not None and own.sha256 != sha256:
            raise IndexerError(
                f"{each.repo.workdir or each.repo.path} has a tokenizer of its own"
                f" ({own.name}), not the first repo's",
                hint="use one tokenizer for all (`commit-indexer tokenizer use PATH --repo R`"
                " for each), or export them apart",
            )


def _tokenizer_files(
    tokenizer: Tokenizer, template: str, max_tokens: int
) -> dict[str, str | bytes]:
    """What the export ships of its tokenizer, its end token the template's."""
    eos = end_token(template, tokenizer)
    pad = PAD if tokenizer.token_id(PAD) is not None else eos
    return model_files(tokenizer, eos, pad, max_tokens)


# `--target edit`: an example whose blocks would not read back from their text (a line
# of the code that is a block marker), and one whose old code the budget cut (the
# blocks' searches are its lines: a model must see them whole).
EDIT_UNREADABLE, OLD_TOO_LONG = "edit_unreadable", "old_too_long"


def _as_edits(example: Example, markers: tuple[str, str, str]) -> Example | None:
    """The example with the search/replace blocks from its old code to its new code as
    its target (`dataset.edits`; an added item's is one block with an empty search),
    with these `markers`; None when the blocks' text would not read back as them."""
    from indexer.dataset.edits import edit_blocks, parse_blocks, render_blocks

    old = next((s.text for s in example.segments if s.kind == OLD), "")
    edits = edit_blocks(old, example.target)
    text = render_blocks(edits, markers)
    if parse_blocks(text, markers) != edits.blocks:
        return None
    return dataclasses.replace(example, target=text)


def block_markers(tokenizer: Tokenizer, template: str) -> tuple[str, str, str]:
    """The blocks' marker lines: the native tokens where the native template's
    tokenizer has them, else aider's text."""
    from indexer.dataset.edits import AIDER_MARKERS, NATIVE_MARKERS

    has = all(tokenizer.token_id(t) is not None for t in BLOCK_TOKENS)
    return NATIVE_MARKERS if template == "native" and has else AIDER_MARKERS


def _old_whole(example: Example, fitted: Fitted) -> bool:
    """The old code went in whole (or there is none)."""
    return all(
        choice == 0
        for segment, choice in zip(example.segments, fitted.choices, strict=True)
        if segment.kind == OLD and segment.text
    )


def as_example(row: StoredExample) -> Example:
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


def _text_and_ids(prompt: str, completion: str, fitted: Fitted) -> dict[str, Any]:
    """A record's text columns and token ids."""
    return {
        "text": prompt + completion,
        "prompt": prompt,
        "completion": completion,
        "input_ids": list(fitted.input_ids),
        "labels": list(fitted.labels),
        "attention_mask": list(fitted.attention_mask),
        "n_tokens": fitted.n_tokens,
    }


def _record_id(e: StoredExample | ExampleHead) -> str:
    key = "\0".join((e.commit, e.path, e.kind, e.qualname)).encode()
    return hashlib.sha256(key).hexdigest()[:16]


def export_snapshot(
    target: Target,
    out: Path,
    fmt: str = "jsonl",
    *,
    shard_bytes: int | None = DEFAULT_SHARD_BYTES,
    pack_to: int | None = None,
    **selection: Any,
) -> Manifest:
    """Write the records `snapshot_records(target, **selection)` gives to `out` in
    `fmt`, with a dataset card (README.md), the tokenizer's files and the manifest; a
    split over `shard_bytes` in shards; with `pack_to`, packed into sequences of at
    most that many tokens (`export.pack`). The same store and arguments give
    byte-identical files.
    """
    max_tokens = selection.get("max_tokens", 2048)
    if pack_to is not None and pack_to < max_tokens:
        raise IndexerError(
            f"--pack {pack_to} is shorter than an example may be (--max-tokens {max_tokens})",
            hint=f"pack to at least {max_tokens} tokens, or lower --max-tokens",
        )
    with snapshot_records(target, **selection) as snapshot:
        records = snapshot.records if pack_to is None else pack(snapshot.records, pack_to)

        def manifest_extra() -> dict[str, Any]:
            extra = snapshot.manifest_extra()
            extra["settings"]["pack"] = pack_to
            return extra

        return write_export(
            out,
            records,
            fmt,
            manifest_extra,
            splits=[n for n, _ in selection.get("ratios", DEFAULT_RATIOS)],
            card=dataset_card,
            attachments=snapshot.tokenizer_files,
            shard_bytes=shard_bytes,
            keys=RECORD_KEYS if pack_to is None else PACKED_KEYS,
        )


@dataclass(frozen=True)
class Snapshot:
    """An export's records as they stream, what its manifest says once they have,
    and the tokenizer's files."""

    records: Iterable[dict[str, Any]]
    manifest_extra: Callable[[], dict[str, Any]]
    tokenizer_files: dict[str, str | bytes]


@contextmanager
def snapshot_records(
    target: Target,
    at: str = "HEAD",
    template: str | None = None,
    max_tokens: int = 2048,
    split: str = DEFAULT_RULE,
    on_progress: Callable[[int, int], None] | None = None,
    dedup: str = "exact",
    near_threshold: float = DEFAULT_THRESHOLD,
    *,
    ratios: Ratios = DEFAULT_RATIOS,
    curation: Curation | None = None,
    context: str = "full",
    message: str = "full",
    also: Sequence[Target] = (),
    target_kind: str | None = None,
    unit: str = "item",
) -> Iterator[Snapshot]:
    """The records an export of these arguments writes, for as long as the store is
    open (`export_snapshot` writes them; `report` reads them): the examples of the
    commits reachable from `at`, curated (`curation`), split by `split`
    (`dataset.splits`), duplicates left out as `dedup` says, each fitted to
    `max_tokens` with the segments `context` and `message` keep. With `also`, more
    repos of the same store, after the first's records, each with its own name and
    lineages, one tokenizer (the first repo's), one set of duplicates and clones.

    Two passes over the store: the first decides each example's split or why it is
    left out (reading no segments), and gathers the validation and test targets; the
    second, as the records are read, tokenizes (token ids cached in the store) and
    fits them.
    """
    split = check_rule(split)
    curation = curation or Curation()
    target_kind = target_kind or ("edit" if unit == "commit" else "item")
    if unit == "commit" and target_kind == "fim":
        raise IndexerError(
            "--target fim makes one example per item, not per commit",
            hint="use --target fim with --unit item, or --target edit|item with --unit commit",
        )
    for name, value, modes in (
        ("context", context, CONTEXT_MODES),
        ("message", message, MESSAGE_MODES),
        ("target", target_kind, TARGETS),
        ("unit", unit, UNITS),
    ):
        if value not in modes:
            raise IndexerError(
                f"unknown --{name} {value!r}", hint=f"use --{name} {' or '.join(modes)}"
            )
    duplicates = Dedup(dedup, near_threshold)
    targets = [target, *also]
    stored, tokenizer, template_name = _tokenizer_for(target, template)
    _check_one_store(targets, stored.sha256)
    clones = None if CLONES in curation.keep else Clones()
    funnel, tally = Funnel(), _Tally()
    repos: list[dict[str, Any]] = []
    shared = _Settings(
        stored.id,
        tokenizer,
        template_name,
        max_tokens,
        "",  # each repo's own name, below
        split,
        tuple(ratios),
        curation,
        CONTEXT_MODES[context],
        MESSAGE_MODES[message],
        edits=target_kind == "edit",
        units=unit == "commit",
        fim=target_kind == "fim",
        markers=block_markers(tokenizer, template_name),
    )
    with translate_errors(target.store.url), target.store.connect() as conn:
        parts: list[_Records] = []
        for each in targets:  # every repo's plan first: the clones are all repos' targets
            at_oid = str(git.resolve_commit(each.repo, at).id)
            commits = _indexed_history(each, at, at_oid)
            source = source_of(each.repo, each.repo[at_oid])
            times = None
            if split == "time":
                times = time_splits([(oid, each.repo[oid].commit_time) for oid in commits], ratios)
            settings = dataclasses.replace(shared, repo_name=source.name)
            plan = _plan(
                conn,
                each.repo_id,
                commits,
                curation,
                split,
                ratios,
                source.name,
                times,
                clones,
                funnel,
            )
            parts.append(
                _Records(conn, each, commits, settings, plan, duplicates, on_progress, tally)
            )
            repos.append(
                {
                    "name": source.name,
                    "at": at_oid,
                    "source": {"url": source.url, "licenses": list(source.licenses)},
                }
            )
        records = itertools.chain.from_iterable(parts)

        def manifest_extra() -> dict[str, Any]:  # once the records are written
            funnel.exported = dict(tally.exported)
            for reason in ("exact_duplicates", "near_duplicates"):
                if duplicates.info.get(reason):
                    funnel.out(reason, duplicates.info[reason])
            for reason, n in sorted(tally.fit_skips.items()):
                funnel.out(reason, n)
            first = repos[0]
            extra = {
                "at": first["at"],
                "repo": " + ".join(r["name"] for r in repos),
                "source": first["source"],
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
                    "ratios": dict(ratios),
                    "context": context,
                    "message": message,
                    "curation": curation.settings(),
                    "target": target_kind,
                    "unit": unit,
                },
                "funnel": funnel.to_dict(),
                "splits_off_ratio": off_ratio(funnel.exported, ratios),
                "skips": tally.skips,
                "context": tally.fits,
                "dedup": duplicates.info,
                "secrets": tally.secrets,
            }
            if unit == "commit":
                extra["units"] = dict(tally.units)
            if len(repos) > 1:
                extra["repos"] = repos
            return extra

        yield Snapshot(
            records, manifest_extra, _tokenizer_files(tokenizer, template_name, max_tokens)
        )


@dataclass
class _Plan:
    """The first pass's answers: the split of each example to export, the validation and
    test targets (for the train examples that are their clones), the funnel so far."""

    splits: dict[int, str]  # example id -> split
    clones: Clones | None
    funnel: Funnel


def curation_funnel(target: Target, at: str = "HEAD") -> Funnel:
    """What the default export's filters leave out of the examples reachable from
    `at` (not its duplicates, clones or budget: those an export counts)."""
    at_oid = str(git.resolve_commit(target.repo, at).id)
    commits = _indexed_history(target, at, at_oid)
    curation = Curation(keep=frozenset({CLONES}))
    with translate_errors(target.store.url), target.store.connect() as conn:
        plan = _plan(
            conn,
            target.repo_id,
            commits,
            curation,
            DEFAULT_RULE,
            DEFAULT_RATIOS,
            "",
            None,
            None,
            Funnel(),
        )
    plan.funnel.exported = dict(Counter(plan.splits.values()))
    return plan.funnel


def _plan(
    conn: Connection,
    repo: int,
    commits: list[str],
    curation: Curation,
    rule: str,
    ratios: Ratios,
    repo_name: str,
    times: dict[str, str] | None,
    clones: Clones | None,
    funnel: Funnel,
) -> _Plan:
    """One repo's plan; `clones` gathers the validation and test targets and `funnel`
    counts, for every repo of the export."""
    train = ratios[0][0]
    funnel.commits += len(commits)
    plan = _Plan({}, clones, funnel)
    lineages = Lineages()
    for start in range(0, len(commits), COMMITS_PER_CHUNK):
        chunk = commits[start : start + COMMITS_PER_CHUNK]
        heads: dict[str, list[ExampleHead]] = {}
        for head in example_heads(conn, repo, chunk):
            heads.setdefault(head.commit, []).append(head)
        notes = commit_notes(conn, repo, chunk)
        renamed = renames(conn, repo, chunk)
        for oid in chunk:
            for old_path, path in renamed.get(oid, ()):
                lineages.renamed(old_path, path)
            mine = heads.get(oid, [])
            # every example's lineage is followed, the left out ones' too (a move)
            roots = [lineages.root(h.path, h.kind, h.qualname, h.origin) for h in mine]
            if not mine:
                continue
            plan.funnel.commits_with_examples += 1
            plan.funnel.examples += len(mine)
            reason = curation.commit(*notes[oid])
            if reason is not None:
                plan.funnel.out(reason, len(mine))
                continue
            kept = []
            for head, root in zip(mine, roots, strict=True):
                why = curation.example(head.kind, head.edit_type, head.target)
                if why is None:
                    kept.append((head, root))
                else:
                    plan.funnel.out(why)
            past = curation.bulk([_record_id(h) for h, _root in kept])
            for head, root in kept:
                if past and _record_id(head) in past:
                    plan.funnel.out(BULK)
                    continue
                if rule == "lineage":
                    split = split_of(lineage_key(repo_name, root), ratios)
                elif rule == "commit":
                    split = split_of(oid, ratios)
                elif rule == "repo":
                    split = split_of(repo_name, ratios)
                else:
                    assert times is not None
                    split = times[oid]
                plan.splits[head.id] = split
                if clones is not None and split != train:
                    clones.add(head.target)
    return plan


def _indexed_history(target: Target, at: str, at_oid: str) -> list[str]:
    """The commits reachable from `at_oid`, which must all be indexed."""
    commits, _unreadable = git.walk(target.repo, [at_oid], ())
    with translate_errors(target.store.url), target.store.connect() as conn:
        missing = len(commits) - len(known_commits(conn, target.repo_id, commits))
        outdated = examples_version(conn, target.repo_id) < BUILDER_VERSION
    if missing:
        raise IndexerError(
            f"{missing} commits reachable from {at} are not indexed yet",
            hint="run `commit-indexer backfill` first",
        )
    if outdated:
        raise IndexerError(
            "the store's examples were built by an older commit-indexer",
            hint="run `commit-indexer backfill`: it builds them again, then export",
        )
    return commits


@dataclass(frozen=True)
class _Settings:
    """What every record of an export is made with."""

    tokenizer_id: int
    tokenizer: Tokenizer
    template: str
    max_tokens: int
    repo_name: str
    rule: str  # how examples are split (`splits.RULES`)
    ratios: tuple[tuple[str, float], ...]
    curation: Curation
    leave_out: tuple[str, ...]  # segment kinds left out (`--context`)
    shortest: tuple[str, ...]  # segment kinds at their shortest (`--message subject`)
    edits: bool = False  # `--target edit`: search/replace blocks instead of the new code
    units: bool = False  # `--unit commit`: one record per commit (or part of one)
    fim: bool = False  # `--target fim`: the file around the item, the item in the middle
    markers: tuple[str, str, str] = ("", "", "")  # the edit blocks' (`block_markers`)

    @property
    def cache_key(self) -> str:
        """What the store caches token ids under: the template, and the target's kind."""
        return f"{self.template}+edit" if self.edits else self.template


@dataclass
class _Tally:
    """What an export counts while its records stream, for the manifest."""

    skips: Counter[str] = field(default_factory=Counter)
    fit_skips: Counter[str] = field(default_factory=Counter)  # those of the budget
    fits: Counter[str] = field(default_factory=Counter)  # whole, or shortened_or_dropped
    exported: Counter[str] = field(default_factory=Counter)  # by split
    secrets: dict[str, Any] = field(
        default_factory=lambda: {
            "dropped_examples": 0,  # skips for the reason "secret"
            "redacted_examples": 0,  # among those exported
            "redacted_secrets": 0,
            "redacted": Counter(),  # by detector
        }
    )

    # `--unit commit`: items in units, commits cut in parts, parts
    units: Counter[str] = field(default_factory=Counter)

    def kept(self, rows: Sequence[StoredExample], split: str, fits_whole: bool) -> None:
        """A record of `rows` (one example, or a commit unit's) is exported."""
        self.exported[split] += 1
        self.fits["whole" if fits_whole else "shortened_or_dropped"] += 1
        for row in rows:
            if row.secrets:
                self.secrets["redacted_examples"] += 1
                self.secrets["redacted_secrets"] += len(row.secrets)
                self.secrets["redacted"].update(row.secrets)

    def left_out(self, reason: str, n: int = 1) -> None:
        """`n` examples the budget (or the target's form) leaves out."""
        self.skips[reason] += n
        self.fit_skips[reason] += n


class _Records:
    """The export's records, in commit order, tokenized (token ids cached in the
    store), deduplicated and fitted to the budget, a chunk of commits at a time;
    `tally` counts what they leave out."""

    def __init__(
        self,
        conn: Connection,
        target: Target,
        commits: list[str],
        settings: _Settings,
        plan: _Plan,
        duplicates: Dedup,
        on_progress: Callable[[int, int], None] | None,
        tally: _Tally,
    ) -> None:
        self.conn, self.target, self.commits, self.settings = conn, target, commits, settings
        self.plan, self.duplicates, self.on_progress = plan, duplicates, on_progress
        self.tally = tally
        self._memo: dict[str, list[int]] = {}  # `_encode`'s

    def __iter__(self) -> Iterator[dict[str, Any]]:
        conn, repo_id, settings = self.conn, self.target.repo_id, self.settings
        self.tally.skips.update(example_skips(conn, repo_id))
        self.tally.secrets["dropped_examples"] = self.tally.skips.get(SECRET_SKIP, 0)
        for start in range(0, len(self.commits), COMMITS_PER_CHUNK):
            chunk = self.commits[start : start + COMMITS_PER_CHUNK]
            order = {oid: n for n, oid in enumerate(chunk)}
            rows = examples_of(conn, repo_id, chunk)
            rows.sort(key=lambda e: (order[e.commit], e.path, e.kind, e.qualname))
            self._memo.clear()  # the ids of a chunk's texts (units and FIM: not cached)
            if settings.units:
                yield from self._units(rows)
            elif settings.fim:
                yield from self._fims(rows)
            else:
                yield from self._records(rows)
            if self.on_progress:
                self.on_progress(
                    min(start + COMMITS_PER_CHUNK, len(self.commits)), len(self.commits)
                )

    def _records(self, rows: list[StoredExample]) -> Iterator[dict[str, Any]]:
        """A record for each example, its token ids cached in the store."""
        settings = self.settings
        cached = cached_tokens(
            self.conn, [e.id for e in rows], settings.tokenizer_id, settings.cache_key
        )
        new: dict[int, bytes] = {}
        for row in rows:
            record = self._record(row, cached, new)
            if record is not None:
                yield record
        save_tokens(self.conn, settings.tokenizer_id, settings.cache_key, new)

    def _fit(
        self, row_id: int, example: Example, cached: dict[int, bytes], new: dict[int, bytes]
    ) -> Fitted | SkipReason:
        """`example` fitted to the budget, its token ids from `cached` or made and added
        to `new`; an edit target whose old code would be cut does not fit."""
        settings = self.settings
        if row_id in cached:
            encoded = EncodedExample.from_bytes(cached[row_id])
        else:
            encoded = encode_example(example, settings.tokenizer, settings.template)
            new[row_id] = encoded.to_bytes()
        fitted = fit(encoded, settings.max_tokens, settings.leave_out, settings.shortest)
        if settings.edits and isinstance(fitted, Fitted) and not _old_whole(example, fitted):
            return SkipReason(OLD_TOO_LONG, fitted.n_tokens, settings.max_tokens)
        return fitted

    def _admitted(self, row: StoredExample) -> tuple[str, Example, Candidate] | None:
        """`row`'s split, its example with the export's target and its dedup candidate;
        None when the plan leaves it out, or it is a clone of a validation or test target
        (in train), a duplicate or its blocks would not read back (counted)."""
        split = self.plan.splits.get(row.id)
        if split is None:
            return None  # counted by the plan
        clones = self.plan.clones
        if clones is not None and split == self.settings.ratios[0][0]:
            old = next((text for kind, text, _v in row.segments if kind == OLD), "")
            if clones.of((row.target, old)):
                self.plan.funnel.out(CLONES)
                return None
        candidate = self.duplicates.check(row.content_id, row.target)
        if candidate.duplicate:
            return None
        example: Example | None = as_example(row)
        if self.settings.edits:
            example = _as_edits(example, self.settings.markers)
        if example is None:
            self.tally.left_out(EDIT_UNREADABLE)
            return None
        return split, example, candidate

    def _record(
        self, row: StoredExample, cached: dict[int, bytes], new: dict[int, bytes]
    ) -> dict[str, Any] | None:
        """The record of `row`; None when it is not admitted (`_admitted`) or does not
        fit (counted). Its token ids are taken from `cached`, or made and added to `new`."""
        settings = self.settings
        admitted = self._admitted(row)
        if admitted is None:
            return None
        split, example, candidate = admitted
        fitted = self._fit(row.id, example, cached, new)
        if isinstance(fitted, SkipReason):
            self.tally.left_out(fitted.reason)
            return None
        candidate.keep()
        self.tally.kept([row], split, fitted.fits_whole)
        prompt, completion = prompt_and_completion(example, fitted, settings.template)
        segments = [
            {"kind": kind, "text": text if choice == 0 else variants[choice - 1]}
            for (kind, text, variants), choice in zip(row.segments, fitted.choices, strict=True)
            if choice is not None and (text if choice == 0 else variants[choice - 1])
        ]
        return self._row_record(row, split, fitted, prompt, completion, segments)

    def _row_record(
        self,
        row: StoredExample,
        split: str,
        fitted: Fitted,
        prompt: str,
        completion: str,
        segments: list[dict[str, str]],
    ) -> dict[str, Any]:
        """The record of one example (`--unit item`)."""
        return {
            "id": _record_id(row),
            "repo": self.settings.repo_name,
            "commit": row.commit,
            "parent": row.parents.split()[0] if row.parents else None,
            "date": row.date,
            "path": row.path,
            "kind": row.kind,
            "name": row.name,
            "qualname": row.qualname,
            "change": row.change,
            "split": split,
            "segments": segments,
            "target": row.target,
            **_text_and_ids(prompt, completion, fitted),
        }

    def _fims(self, rows: list[StoredExample]) -> Iterator[dict[str, Any]]:
        """`--target fim`: each admitted item's record, the file around it (read from
        git, screened for secrets, a blob once a chunk) as prefix and suffix."""
        places = item_places(self.conn, self.target.repo_id, [r.id for r in rows])
        files = Files(self.target.repo)  # a chunk's files, each read once
        for row in rows:
            admitted = self._admitted(row)
            if admitted is None:
                continue
            split, _example, candidate = admitted
            text = files.around(row.kind, row.target, places.get(row.id))
            if isinstance(text, str):
                self.tally.left_out(text)
                continue
            s = self.settings
            fim = fit_fim(
                s.tokenizer, s.template, row.path, text, row.target, s.max_tokens, self._encode
            )
            if isinstance(fim, SkipReason):
                self.tally.left_out(fim.reason)
                continue
            candidate.keep()
            self.tally.kept([row], split, fim.whole)
            prompt, completion = split_text(kept_parts(fim.parts, fim.fitted))
            around = [("fim_prefix", fim.prefix), ("fim_suffix", fim.suffix)]
            segments = [{"kind": k, "text": t} for k, t in [("path", row.path), *around] if t]
            yield self._row_record(row, split, fim.fitted, prompt, completion, segments)

    def _units(self, rows: list[StoredExample]) -> Iterator[dict[str, Any]]:
        """`--unit commit`: the records of these commits' units, a commit's admitted
        items by split (so a unit never holds two lineages' splits), each split's cut
        into parts by file when they do not fit together (`units.parts_by_file`)."""
        places = item_places(self.conn, self.target.repo_id, [r.id for r in rows])
        splits = [name for name, _ratio in self.settings.ratios]
        for _commit, group in itertools.groupby(rows, key=lambda r: r.commit):
            by_split: dict[str, list[tuple[StoredExample, UnitItem, Candidate]]] = {}
            for row in group:
                admitted = self._admitted(row)
                if admitted is None:
                    continue
                split, example, candidate = admitted
                place = places.get(row.id)
                item = UnitItem(example, row.target, place.spans[0][0] if place else 0)
                by_split.setdefault(split, []).append((row, item, candidate))
            for split in sorted(by_split, key=splits.index):
                members = by_split[split]
                of_item = {id(item): (row, candidate) for row, item, candidate in members}
                fit_of = self._unit_fitter(len(members))
                parts, left_out = parts_by_file([m[1] for m in members], fit_of)
                if left_out:
                    self.tally.left_out(ITEM_TOO_LONG, len(left_out))
                if len(parts) > 1:
                    self.tally.units["commits_in_parts"] += 1
                for k, part in enumerate(parts, 1):
                    record = self._unit_record(part, k, len(parts), split, of_item)
                    if record is not None:
                        yield record

    def _unit_fitter(self, n_items: int) -> Callable[[Sequence[UnitItem]], bool]:
        """Whether some of a commit's `n_items` items fit as a unit; a part leaves room
        for its note."""

        def fits(items: Sequence[UnitItem]) -> bool:
            note = "" if len(items) == n_items else "(part 99 of 99)"
            return self._fit_unit(make_unit(items, note)) is not None

        return fits

    def _fit_unit(self, unit: Unit) -> Fitted | None:
        s = self.settings
        return fit_unit(
            unit,
            s.tokenizer,
            s.template,
            s.max_tokens,
            s.leave_out,
            s.shortest,
            s.edits,
            self._encode,
        )

    def _encode(self, text: str) -> list[int]:
        """The tokenizer's ids of `text`, remembered for the chunk (a commit cut in
        parts tries its files more than once; FIM encodes a file's lines)."""
        if text not in self._memo:
            self._memo[text] = self.settings.tokenizer.encode(text)
        return self._memo[text]

    def _unit_record(
        self,
        items: list[UnitItem],
        k: int,
        n: int,
        split: str,
        of_item: dict[int, tuple[StoredExample, Candidate]],
    ) -> dict[str, Any] | None:
        settings = self.settings
        unit = make_unit(items, part_note(k, n))
        fitted = self._fit_unit(unit)
        if fitted is None:  # its note took more room than the one it was tried with
            self.tally.left_out(ITEM_TOO_LONG, len(items))
            return None
        rows = [of_item[id(item)][0] for item in unit.items]
        for item in unit.items:
            of_item[id(item)][1].keep()
        self.tally.kept(rows, split, fitted.fits_whole)
        self.tally.units["items"] += len(rows)
        self.tally.units["parts"] += 1
        prompt, completion = split_text(kept_parts(unit_parts(unit, settings.template), fitted))
        first = rows[0]
        key = "\0".join((first.commit, split, str(k))).encode()
        return {
            "id": hashlib.sha256(key).hexdigest()[:16],
            "repo": settings.repo_name,
            "commit": first.commit,
            "parent": first.parents.split()[0] if first.parents else None,
            "date": first.date,
            "path": "\n".join(f.path.text for f in unit.files),
            "kind": "commit",
            "name": "",
            "qualname": unit.note,
            "change": "commit",
            "split": split,
            "segments": [
                {"kind": s.kind, "text": s.text if c == 0 else s.variants[c - 1]}
                for s, c in zip(unit.segments, fitted.choices, strict=True)
                if c is not None
            ],
            "target": "".join(item.example.target for item in unit.items),
            **_text_and_ids(prompt, completion, fitted),
        }
