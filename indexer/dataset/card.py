"""The export's dataset card: `README.md` with the Hugging Face YAML header (`configs`
with the data files of each split, `dataset_info` with the features and each split's
example count), then what a reader needs to trust the data: counts, tokenizer,
template, budget, split rule, duplicates and secrets left out, skips by reason, and
what each field holds.

Made from the manifest alone (nothing else is read), with no date in it, so identical
exports have identical cards.
"""

from __future__ import annotations

from typing import Any

import yaml

from indexer.dataset.export import COLUMNS, PACKED_KEYS, RECORD_KEYS, Manifest, split_files


def _feature(name: str, kind: Any) -> dict[str, Any]:
    """A column of `export.COLUMNS` as a `datasets` feature: a struct's list as
    `list` of its fields, another list as a `sequence`, a value as a `dtype`."""
    if isinstance(kind, str):
        return {"name": name, "dtype": kind}
    item = kind[1]
    if isinstance(item, str):
        return {"name": name, "sequence": item}
    return {"name": name, "list": [_feature(sub, sub_kind) for sub, sub_kind in item[1]]}


def _features(keys: tuple[str, ...]) -> list[dict[str, Any]]:
    return [_feature(name, kind) for name, kind in COLUMNS[keys]]


_PACKED_FIELDS = (
    ("id", "16 hex digits: a hash of the ids of the examples it packs"),
    ("repo", "the repository: `owner/name` from its origin remote, else its folder's name"),
    ("split", "train, validation or test (every example it packs is of this split)"),
    ("examples", "the ids of the examples it packs, in order (as an unpacked export's `id`)"),
    ("input_ids", "the examples' tokens end to end, each as the template lays it out"),
    ("labels", "each example's target tokens; -100 on every context token"),
    ("attention_mask", "1 for every token"),
    ("position_ids", "0, 1, ... again from each example's start"),
    ("n_tokens", "the length of input_ids, at most the packed length"),
)

_FIELDS = (
    ("id", "16 hex digits: a hash of commit, path, item kind and qualified name"),
    ("repo", "the repository: `owner/name` from its origin remote, else its folder's name"),
    ("commit", "the commit that added or changed the item"),
    ("parent", "its first parent (null for a root commit)"),
    ("date", "committer date, seconds since 1970 (UTC)"),
    ("path", "the .rs file"),
    ("kind", "fn, method, struct, enum, union, trait, impl, type, const, static, macro, mod"),
    ("name", "the item's name"),
    ("qualname", "its qualified name within the file (`impl Display for Foo::fmt`)"),
    ("change", "added or modified"),
    ("split", "train, validation or test"),
    (
        "segments",
        "the context, in the order it was kept: path, commit message, the item's old code,"
        " the file's imports, definitions from other files (`ctx_struct`, `ctx_fn`, ...)",
    ),
    ("target", "the item's new code, whole"),
    (
        "text",
        "the example as text, as the template lays it out (prompt then completion), without"
        " the end token: for trainers that tokenize text (TRL's SFTTrainer adds the end token)",
    ),
    ("prompt", "the context up to and including the target's marker"),
    ("completion", "the target: what the model learns to write"),
    ("input_ids", "the tokens of context and target, as the template lays them out"),
    ("labels", "the target's tokens; -100 on every context token"),
    ("attention_mask", "1 for every token (records are not padded)"),
    ("n_tokens", "the length of input_ids"),
)


def dataset_card(manifest: Manifest) -> str:
    """The card's text for an export whose split files `manifest` describes."""
    m = manifest.to_dict()
    counts: dict[str, int] = m["counts"]
    header: dict[str, Any] = {"pretty_name": f"{m.get('repo', 'repo')} commits"}
    licenses = (m.get("source") or {}).get("licenses") or []
    if licenses:  # the repository's, as its Cargo manifest says: the code's license
        header["license"] = licenses[0] if len(licenses) == 1 else licenses
    header["language"] = ["code"]  # the Hub's tag for source code (the Stack, CommitPack)
    header["task_categories"] = ["text-generation"]
    header["size_categories"] = [_size_category(sum(counts.values()))]
    header["source_datasets"] = ["original"]
    header["tags"] = ["code", "rust", "commits"]
    # A split with no records is left out: `load_dataset` refuses a split file that
    # holds no data ("corresponds to no data"), and would fail on the whole export.
    held = {split: n for split, n in counts.items() if n}
    if m["format"] in ("jsonl", "parquet"):  # `datasets` cannot read the torch files
        files = []
        for split in held:
            paths = split_files(m["files"], split, m["format"])
            files.append({"split": split, "path": paths[0] if len(paths) == 1 else paths})
        header["configs"] = [{"config_name": "default", "data_files": files}]
    packed = bool(m.get("settings", {}).get("pack"))
    header["dataset_info"] = {"features": _features(PACKED_KEYS if packed else RECORD_KEYS)}
    sizes = m.get("num_bytes")
    if sizes is not None:  # `datasets` checks the counts only with every field there
        header["dataset_info"]["splits"] = [
            {"name": split, "num_bytes": sizes[split], "num_examples": n}
            for split, n in held.items()
        ]
        header["dataset_info"]["dataset_size"] = sum(sizes.values())
    front = yaml.safe_dump(
        header, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000
    )
    return f"---\n{front}---\n\n{_body(m)}"


def _size_category(n: int) -> str:
    """The Hub's size category of `n` examples."""
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")]
    bounds += [(1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")]
    return next((name for bound, name in bounds if n < bound), "10M<n<100M")


def _body(m: dict[str, Any]) -> str:
    tok, settings = m.get("tokenizer", {}), m.get("settings", {})
    packed = bool(settings.get("pack"))
    lines = [
        f"# {m.get('repo', 'repo')}: commits as training examples",
        "",
        "Made by commit-indexer from the git history of this repository, up to commit"
        f" `{m.get('at', '')}`: one example per item (function, struct, impl, ...) that a"
        " commit added or changed, its new code as the target and what the author saw as"
        " context. `manifest.json` has the same figures and the sha256 of every file.",
        "",
        *_source_lines(m.get("source") or {}),
        "## Counts",
        "",
        "| split | examples | tokens |",
        "| --- | ---: | ---: |",
        *(f"| {s} | {n} | {m['tokens'][s]} |" for s, n in m["counts"].items()),
        f"| all | {sum(m['counts'].values())} | {sum(m['tokens'].values())} |",
        "",
        "## Settings",
        "",
        f"- format: {m['format']}",
        f"- tokenizer: {tok.get('name')} ({tok.get('kind')}, {tok.get('vocab_size')} tokens),"
        f" sha256 `{tok.get('sha256')}`",
        f"- template: {settings.get('template')}",
        f"- target: {_TARGET_TEXT.get(settings.get('target', 'item'), '')}",
        *(
            [
                "- unit: one record per commit (a part of one, by file, where it does not fit),"
                " its items' targets in file and position order, one unit per split"
            ]
            if settings.get("unit") == "commit"
            else []
        ),
        f"- max tokens: {settings.get('max_tokens')} (context is shortened or dropped to fit;"
        " the target is never cut, an example whose target does not fit is left out)",
        f"- split: {_split_rule(settings)}",
        *(
            [
                f"- packed: the examples of a split end to end in sequences of at most"
                f" {settings['pack']} tokens (the counts above are sequences)"
            ]
            if packed
            else []
        ),
        f"- context: {_CONTEXT_TEXT.get(settings.get('context', 'full'), '')}",
        f"- message: {_MESSAGE_TEXT.get(settings.get('message', 'full'), '')}",
    ]
    off = m.get("splits_off_ratio") or {}
    for split, shares in off.items():
        lines.append(
            f"- **{split} is {shares['share']:.1%} of the examples, not {shares['ratio']:.0%}**:"
            " a few lineages (or commits) hold many examples"
        )
    dedup = m.get("dedup", {})
    if dedup:
        lines.append(f"- duplicates: {_dedup_text(dedup)}")
    secrets = m.get("secrets", {})
    if secrets:
        found = ", ".join(f"{n} {k}" for k, n in sorted(secrets.get("redacted", {}).items()))
        lines.append(
            f"- secrets: {secrets.get('redacted_secrets', 0)} redacted from"
            f" {secrets.get('redacted_examples', 0)} exported examples"
            + (f" ({found})" if found else "")
            + f"; {secrets.get('dropped_examples', 0)} examples dropped for holding one"
            " (detect-secrets; a redacted secret reads `<secret:DetectorName>`)"
        )
    skips = m.get("skips", {})
    left_out = ", ".join(f"{n} {reason}" for reason, n in sorted(skips.items())) or "none"
    lines += [
        f"- changes that made no example, by reason: {left_out}",
        "",
        *_funnel_lines(m.get("funnel"), settings.get("curation", {})),
        "## Fields",
        "",
        "| field | what it holds |",
        "| --- | --- |",
        *(f"| {name} | {text} |" for name, text in (_PACKED_FIELDS if packed else _FIELDS)),
        "",
    ]
    return "\n".join(lines)


def _source_lines(source: dict[str, Any]) -> list[str]:
    url, licenses = source.get("url"), source.get("licenses") or []
    lines = [f"- source: {url}"] if url else []
    if licenses:
        lines.append(
            f"- license: {', '.join(licenses)} (the repository's, from its Cargo manifest or"
            " license files: the examples are its code)"
        )
    return [*lines, ""] if lines else []


_TARGET_TEXT = {
    "item": "the item's whole new code (`completion`, the labels)",
    "edit": "search/replace blocks of whole lines from the item's old code to its new code"
    " (`<<<<<<< SEARCH`, `=======`, `>>>>>>> REPLACE`, or the native tokenizer's"
    " `<|search|>`, `<|divide|>`, `<|replace|>`; an added item's search is empty),"
    " each checked to apply back, as `completion` and the labels; `target` keeps the new"
    " code, and the old code is always whole in the context",
    "fim": "fill-in-the-middle: the file around the item at its commit as prefix and"
    " suffix (whole lines, the nearest first, screened for secrets), the item's new code"
    " as the middle (`completion`, the labels)",
}
_CONTEXT_TEXT = {
    "full": "definitions from other files, the commit's own edits of them included",
    "none": "no definitions from other files (`--context none`, an ablation)",
    "no-edits": "definitions from other files as they were, not those the same commit"
    " edits (`--context no-edits`, an ablation)",
}
_MESSAGE_TEXT = {
    "full": "cleaned of trailers, e-mails, URLs, issue refs, mentions and commit ids",
    "subject": "its subject line only, cleaned (`--message subject`)",
}
# What each filter of the funnel left out, in words.
_REASONS = {
    "bot": "commits by bots (dependabot, renovate, github-actions, ...)",
    "revert": "reverts",
    "fixup": "fixup!, squash! and amend! commits",
    "wip": "work-in-progress messages",
    "empty_message": "empty messages",
    "trivial_message": "routine messages (version bumps, changelog updates)",
    "moved": "items moved with nothing else changed",
    "formatting": "formatting-only edits (whitespace, line breaks, trailing commas)",
    "comments": "comment-only edits",
    "trivial": "targets under the minimum number of lines",
    "bulk": "examples past the cap per commit",
    "clones": "train examples whose target or old code is a near-copy of a validation or "
    "test target",
    "exact_duplicates": "exact duplicates",
    "near_duplicates": "near duplicates",
    "target_too_long": "targets longer than the token budget",
    "old_too_long": "edit targets whose old code does not fit the budget whole",
    "edit_unreadable": "edit targets whose blocks would not read back from their text",
}


def _split_rule(settings: dict[str, Any]) -> str:
    ratios = ", ".join(f"{s} {r:g}" for s, r in settings.get("ratios", {}).items())
    rule = settings.get("split")
    if rule == "time":
        return f"by committer date, oldest first ({ratios})"
    if rule == "repo":
        return f"by a hash of the repository's name ({ratios}): the whole repository in one"
    if rule in ("commit", "hash"):
        return (
            f"by a hash of the commit id ({ratios}): every example of a commit is in one"
            " split and stays there as the history grows"
        )
    return (
        f"by item lineage ({ratios}): every version of an item, through renames and moves,"
        " is in one split, from a hash of its first version, and stays there as the"
        " history grows"
    )


def _funnel_lines(funnel: dict[str, Any] | None, curation: dict[str, Any]) -> list[str]:
    if not funnel:
        return []
    lines = [
        "## From commits to examples",
        "",
        f"{funnel['commits']} commits, {funnel['commits_with_examples']} of them with"
        f" examples ({funnel['examples']} examples stored). Left out, in this order:",
        "",
        "| left out | examples |",
        "| --- | ---: |",
        *(f"| {_REASONS.get(r, r)} | {n} |" for r, n in funnel["left_out"].items() if n),
        f"| **exported** | **{sum(funnel['exported'].values())}** |",
        "",
    ]
    kept = curation.get("kept") or []
    if kept:
        lines += [f"Filters switched off (`--keep`): {', '.join(kept)}.", ""]
    if curation:
        lines += [
            f"A target has at least {curation.get('min_lines')} non-blank lines; at most"
            f" {curation.get('max_per_commit')} examples of one commit are kept.",
            "",
        ]
    return lines


def _dedup_text(dedup: dict[str, Any]) -> str:
    mode = dedup.get("mode")
    if mode == "none":
        return "kept (--dedup none)"
    text = (
        f"{dedup.get('exact_duplicates', 0)} exact duplicates (same segments and target)"
        " left out, the first in export order kept"
    )
    if mode == "near":
        text += (
            f"; {dedup.get('near_duplicates', 0)} near duplicates left out (MinHash over"
            f" {dedup.get('shingles')}, {dedup.get('num_perm')} permutations, seed"
            f" {dedup.get('seed')}, Jaccard >= {dedup.get('threshold')})"
        )
    return text + "; no content is in two splits"
