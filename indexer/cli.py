"""The command line. It parses arguments, calls one core function and prints the result.

Errors from the core (`IndexerError`) become an `error:` and a `hint:` line and exit
code 2; Ctrl-C exits 130; a traceback only with `--debug`.
"""

from __future__ import annotations

import contextlib
import gc
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import click
import typer
from rich.console import Console
from typer.core import TyperGroup

from indexer.errors import IndexerError, NotFound
from indexer.rust import DEFAULT_MAX_BLOB_BYTES

if TYPE_CHECKING:
    from indexer.dataset.curate import Funnel
    from indexer.dataset.export import Manifest
    from indexer.dataset.snapshot import TokenizerInfo
    from indexer.hooks import HookState
    from indexer.index.sync import SyncResult
    from indexer.lookup import CommitExamples
    from indexer.store import Target
    from indexer.store.examples import StoredExample

# C0 and C1 controls but tab and newline (a CR only where it ends no line), and the
# bidirectional overrides that make code read other than it runs ("Trojan Source").
_CONTROLS = re.compile(r"\r(?!\n)|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _visible(text: str) -> str:
    """`text` with each control character shown as its escape (`\\x1b`), never sent."""
    return _CONTROLS.sub(lambda m: repr(m.group())[1:-1], text)


class _TextConsole(Console):
    """What the commands print is text: repo text (paths, names, code, messages) is no
    markup (`[/]` in a path would crash it, `<[u8; 32]>` would vanish) and no `:emoji:`
    code, and its control characters show as escapes instead of moving the cursor or
    running terminal commands (OSC 52 writes the clipboard). Rich's own styling and
    progress bars are not strings printed here, and keep their escapes."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(highlight=False, soft_wrap=True, markup=False, emoji=False, **kwargs)

    def print(self, *objects: object, **kwargs: object) -> None:
        super().print(*(_visible(o) if isinstance(o, str) else o for o in objects), **kwargs)

    def rule(self, title: str = "", **kwargs: object) -> None:
        super().rule(_visible(title), **kwargs)


out = _TextConsole()
err = _TextConsole(stderr=True)
_debug = False


RepoOpt = Annotated[
    Path, typer.Option("--repo", "-C", help="The repository (a work tree or git dir).")
]
DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="SQLAlchemy URL of the store [default: SQLite in the git dir]."),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--workers",
        "-j",
        min=1,
        help="Processes to use, this one and N - 1 parsers [default: cores].",
    ),
]
MaxBytesOpt = Annotated[
    int, typer.Option("--max-blob-bytes", min=1, help="Larger .rs files are skipped, counted.")
]
# The choices of the options that take one of a few words: listed in --help, completed
# by the shell and checked before any work starts. They are the modules' own lists
# (tests/test_console_script.py holds them equal), spelled out so that the CLI does not
# import those modules to start.
Format = Literal["jsonl", "parquet", "pt"]  # export.FORMATS
TemplateName = Literal["native", "starcoder", "plain"]  # budget.TEMPLATES
SplitRule = Literal["lineage", "commit", "time", "repo"]  # splits.RULES
DedupMode = Literal["none", "exact", "near"]  # dedup.MODES
SecretsMode = Literal["redact", "drop"]  # secrets.MODES
ContextMode = Literal["full", "none", "no-edits"]  # snapshot.CONTEXT_MODES
MessageMode = Literal["full", "subject"]  # snapshot.MESSAGE_MODES
TargetKind = Literal["item", "edit", "fim"]  # snapshot.TARGETS
UnitKind = Literal["item", "commit"]  # snapshot.UNITS
# curate.FILTERS; an enum, as typer takes no list of a Literal
Filter = StrEnum(
    "Filter",
    "bot revert fixup wip empty_message trivial_message moved formatting comments trivial stub"
    " shell bulk clones",
)

SecretsOpt = Annotated[
    SecretsMode | None,
    typer.Option(
        "--secrets",
        help="redact or drop examples holding credentials"
        " [default: git config commit-indexer.secrets, else redact].",
    ),
]


JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print JSON (one document on stdout) for scripts.")
]


def _print_json(data: object) -> None:
    """`data` as one JSON document on stdout, never markup; ASCII, so that no
    character of the repo's text (a C1 control, a bidi override) reaches the terminal
    as it is."""
    import json
    import sys

    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


# What click and typer raise to end a command as they mean to (`--help`, a usage
# error, `typer.Exit`): passed on as they are. typer 0.28 has its own copy of click,
# whose exceptions are not click's.
_THEIRS = (
    typer.Exit,
    typer.Abort,
    getattr(typer, "TyperException", click.ClickException),
    click.exceptions.Exit,
    click.ClickException,
    click.exceptions.Abort,
)


# A usage error of typer's click, and of click itself, whichever parsed the arguments.
_USAGE_ERRORS = tuple({typer._click.exceptions.UsageError, click.UsageError})
_NO_ARGS = tuple({typer._click.exceptions.NoArgsIsHelpError, click.exceptions.NoArgsIsHelpError})


class _App(TyperGroup):
    """The one error handler, around every command: an IndexerError or a usage error
    becomes `error:` and `hint:` lines and exit 2 (1 for NotFound: nothing matched),
    Ctrl-C exit 130,
    anything else (a bug) one line and exit 1; `--debug` shows the traceback instead."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except IndexerError as exc:
            if _debug:
                raise
            err.print(f"error: {exc.message}")
            if exc.hint:
                err.print(f"hint: {exc.hint}")
            raise typer.Exit(getattr(exc, "exit_code", 2)) from None
        except KeyboardInterrupt:
            if _debug:
                raise
            err.print("interrupted: what was indexed is kept; run the command again to go on")
            raise typer.Exit(130) from None
        except _USAGE_ERRORS as exc:  # a command's: an unknown option, a bad choice, ...
            if isinstance(exc, _NO_ARGS):  # the group's help
                raise
            err.print(f"error: {exc.format_message()}")
            where = exc.ctx.command_path if exc.ctx is not None else "commit-indexer"
            err.print(f"hint: `{where} -h` lists what it takes")
            raise typer.Exit(2) from None
        except _THEIRS:
            raise
        except Exception as exc:
            if _debug:
                raise
            err.print(f"error: internal error: {type(exc).__name__}: {exc}")
            err.print("hint: run again with --debug for the traceback and report it")
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_App,
    help="Turn a Rust repository's git history into training data, incrementally.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,  # help is text: `[default: ...]` is not markup
)


def _version(shown: bool) -> None:
    if shown:
        from importlib.metadata import version

        out.print(f"commit-indexer {version('commit-indexer')}")
        raise typer.Exit()


@app.callback()
def _options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    global _debug
    _debug = debug


@contextmanager
def _opened(repo: Path, db: str | None, create: bool = False) -> Iterator[Target]:
    """The repository and its store, closed however the command ends. Only the
    commands that index (`create`) make a store that is not there yet."""
    from indexer.store import open_target

    target = open_target(str(repo), db, create)
    try:
        yield target
    finally:
        target.close()


def _run_sync(
    repo: Path,
    *,
    db: str | None = None,
    rev: str | None = None,
    remotes: bool = False,
    workers: int | None = None,
    max_bytes: int = DEFAULT_MAX_BLOB_BYTES,
    show_progress: bool = False,
    secrets: str | None = None,
) -> SyncResult:
    """`sync` as the commands run it: with a progress bar if asked, and a warning for
    each tip whose history libgit2 cannot read."""
    from indexer.index.sync import sync

    bar = None
    if show_progress:
        from indexer.progress_bars import SyncBar

        bar = SyncBar(err)
    with _opened(repo, db, create=True) as target:
        try:
            result = sync(
                target,
                rev,
                remotes,
                workers,
                max_bytes,
                on_progress=bar.update if bar else None,
                secrets=secrets,
            )
        finally:
            if bar:
                bar.close()
    for tip in result.unreadable:
        err.print(
            f"warning: skipped the history of {tip[:12]}: libgit2 cannot read a commit in it"
            " (see `git fsck`)"
        )
    return result


@app.command()
def backfill(
    repo: RepoOpt = Path("."),
    db: DbOpt = None,
    remotes: Annotated[
        bool, typer.Option("--remotes", help="Also index remote-tracking branches.")
    ] = False,
    workers: WorkersOpt = None,
    max_blob_bytes: MaxBytesOpt = DEFAULT_MAX_BLOB_BYTES,
    secrets: SecretsOpt = None,
) -> None:
    """Index every commit reachable from HEAD, branches and tags. Resumable: rerun after Ctrl-C."""
    start = time.perf_counter()
    result = _run_sync(
        repo,
        db=db,
        remotes=remotes,
        workers=workers,
        max_bytes=max_blob_bytes,
        show_progress=True,
        secrets=secrets,
    )
    seconds = time.perf_counter() - start
    if result.commits == 0:
        out.print("up to date: nothing new to index")
    else:
        out.print(
            f"indexed {result.commits} commits, parsed {result.blobs} blobs in {seconds:.1f}s"
        )


@app.command("sync")
def sync_command(
    repo: RepoOpt = Path("."),
    db: DbOpt = None,
    rev: Annotated[str, typer.Option("--rev", help="Index what is reachable from REV.")] = "HEAD",
    workers: WorkersOpt = None,
    max_blob_bytes: MaxBytesOpt = DEFAULT_MAX_BLOB_BYTES,
    secrets: SecretsOpt = None,
) -> None:
    """Index the commits reachable from REV (default HEAD) that are not in the store yet."""
    result = _run_sync(
        repo, db=db, rev=rev, workers=workers, max_bytes=max_blob_bytes, secrets=secrets
    )
    out.print(f"indexed {result.commits} commits, parsed {result.blobs} blobs")


def _print_stats(repo: Path, db: str | None, as_json: bool = False) -> None:
    import dataclasses

    from indexer.index.sync import behind
    from indexer.store import translate_errors
    from indexer.store.commits import stats as store_stats

    with _opened(repo, db) as target:
        with translate_errors(target.store.url), target.store.connect() as conn:
            s = store_stats(conn, target.repo_id)
        lag = behind(target) if not target.repo.head_is_unborn else 0
        funnel = _funnel(target) if not target.repo.head_is_unborn else None
    if as_json:
        _print_json(
            {
                "store": target.store.shown_url,
                **dataclasses.asdict(s),
                "behind": lag,
                "funnel": funnel.to_dict() if funnel is not None else None,
            }
        )
        return
    out.print(f"store        {target.store.shown_url}")
    if s.store_bytes is not None:
        out.print(f"store size   {s.store_bytes / 1e6:.1f} MB")
    out.print(f"commits      {s.commits} ({s.merges} merges, {s.boundaries} shallow boundaries)")
    out.print(f"behind HEAD  {lag} commits not indexed yet")
    out.print(f"changes      {s.changes} .rs files changed")
    blobs = ", ".join(f"{n} {k}" for k, n in s.blobs_by_status.items()) or "none"
    out.print(f"blobs        {sum(s.blobs_by_status.values())} ({blobs})")
    skips = ", ".join(f"{n} {k}" for k, n in s.skips_by_reason.items()) or "none"
    out.print(f"skipped      {skips}")
    partial = ", ".join(f"{n} {k}" for k, n in s.partial_by_reason.items()) or "none"
    out.print(f"partial      {partial}")
    out.print(f"symbols      {sum(s.items_by_kind.values())}")
    for kind, count in s.items_by_kind.items():
        out.print(f"  {kind:<10} {count}")
    out.print(f"uses         {s.uses}")
    skips = ", ".join(f"{n} {k}" for k, n in s.example_skips.items()) or "none"
    out.print(f"examples     {s.examples} (not examples: {skips})")
    out.print(f"  distinct   {s.distinct_examples} (exact duplicates are stored once)")
    edits = ", ".join(f"{n} {k}" for k, n in s.edit_types.items()) or "none"
    out.print(f"  edits      {edits}")
    if funnel is None:
        out.print("  curated    - (examples to export: run `commit-indexer backfill` first)")
    else:
        left_out = ", ".join(f"{n} {k}" for k, n in funnel.ordered().items() if n) or "none"
        kept = sum(funnel.exported.values())
        out.print(f"  curated    {kept} of {funnel.examples} to export by default, left out:")
        out.print(f"             {left_out} (and, at export: clones, duplicates, too long)")
    found = ", ".join(f"{n} {k}" for k, n in s.redacted.items())
    out.print(
        f"  redacted   {s.redacted_examples} examples held {sum(s.redacted.values())} secrets"
        + (f" ({found})" if found else "")
    )
    # Names an example could have context for: resolved, or not found or ambiguous in
    # our crates (an external crate's, std's or the file's own are not context).
    missed = s.unresolved.get("not found", 0) + s.unresolved.get("ambiguous", 0)
    looked = s.resolved + missed
    rate = f"{100 * s.resolved / looked:.0f}%" if looked else "-"
    why = ", ".join(f"{n} {k}" for k, n in s.unresolved.items()) or "none"
    out.print(f"  context    {s.resolved} names resolved to other files ({rate} of {looked} ours)")
    out.print(f"             not resolved: {why}")


def _funnel(target: Target) -> Funnel | None:
    """The default filters' funnel, None when the store is not up to date."""
    from indexer.dataset.snapshot import curation_funnel

    try:
        return curation_funnel(target)
    except IndexerError:
        return None


@app.command()
def stats(repo: RepoOpt = Path("."), db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Commits, blobs parsed and skipped by reason, symbols by kind, store size."""
    _print_stats(repo, db, as_json)


@app.command()
def symbols(
    name: Annotated[
        str, typer.Argument(help="A name (`Config`) or qualified name (`impl Foo::new`).")
    ],
    at: Annotated[str, typer.Option("--at", help="The commit to look at.")] = "HEAD",
    kind: Annotated[
        str | None, typer.Option("--kind", help="Only this kind: fn, method, struct, enum, ...")
    ] = None,
    repo: RepoOpt = Path("."),
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Where NAME is defined at a commit: path, kind, lines and code."""
    import dataclasses

    from indexer.lookup import find_symbols

    with _opened(repo, db) as target:
        found = find_symbols(target, name, at, kind)
    if not found:
        raise NotFound(
            f"no definition of '{name}' at {at}", hint="check the name, or try another --at REV"
        )
    if as_json:
        _print_json([dataclasses.asdict(symbol) for symbol in found])
        return
    for symbol in found:
        where = f"{symbol.path}:{symbol.start_line}-{symbol.end_line}"
        out.print(f"{where}  {symbol.kind}  {symbol.qualname}")
        out.print(symbol.code)
        out.print()


@app.command()
def show(
    commit: Annotated[str, typer.Argument(help="A commit (any rev git understands).")],
    path: Annotated[str | None, typer.Option("--path", help="Only this file.")] = None,
    target_kind: Annotated[
        TargetKind | None,
        typer.Option(
            "--target",
            help="item: the new code; edit: the search/replace blocks [default: item;"
            " edit with --unit commit].",
            show_default=False,
        ),
    ] = None,
    unit: Annotated[
        UnitKind,
        typer.Option(
            "--unit", help="item: each example; commit: the commit as one unit, as exported."
        ),
    ] = "item",
    repo: RepoOpt = Path("."),
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The examples of one commit, segment by segment, as they are stored."""
    from indexer.lookup import commit_examples

    target_kind = target_kind or ("edit" if unit == "commit" else "item")
    if unit == "commit" and target_kind == "fim":
        raise IndexerError(
            "--target fim makes one example per item, not per commit",
            hint="use --target fim with --unit item, or --target edit|item with --unit commit",
        )
    with _opened(repo, db) as target:
        shown = commit_examples(target, commit, path)
        around = _fim_around(target, shown) if target_kind == "fim" else {}
    if not shown.examples:
        raise NotFound(
            f"commit {shown.commit[:12]} has no examples"
            + (f" for {path}" if path else "")
            + (
                f" ({', '.join(f'{n} {k}' for k, n in shown.skipped.items())})"
                if shown.skipped
                else ""
            ),
            hint="merges, empty commits and changes that only delete or reformat code make none",
        )
    if unit == "commit":
        text = _unit_text(shown, target_kind)
        if as_json:
            _print_json({"commit": shown.commit, "skipped": shown.skipped, "unit": text})
        else:
            out.rule(f"commit {shown.commit[:12]}: {len(shown.examples)} examples", style="dim")
            out.print(text)
        return
    if as_json:
        _print_json(
            {
                "commit": shown.commit,
                "skipped": shown.skipped,
                "examples": [
                    {
                        **_example_json(e),
                        "target": _target_text(e, target_kind),
                        **(
                            {"fim": dict(zip(("prefix", "suffix"), around[e.id], strict=True))}
                            if e.id in around
                            else {}
                        ),
                    }
                    for e in shown.examples
                ],
            }
        )
        return
    for n, example in enumerate(shown.examples, 1):
        out.rule(
            f"example {n}/{len(shown.examples)}: {example.change} {example.kind} "
            f"{example.qualname} in {example.path}",
            style="dim",
        )
        if target_kind == "fim":
            prefix, suffix = around.get(example.id, ("", ""))
            if example.id not in around:
                out.print("(no FIM example: a container, or not found in its file)", style="dim")
                continue
            out.print("<fim_prefix>", style="bold cyan")
            out.print(prefix, end="")
            out.print("<fim_suffix>", style="bold cyan")
            out.print(suffix)
            out.print("<fim_middle>", style="bold green")
            out.print(example.target)
            continue
        for kind, text, variants in example.segments:
            shorter = f" (+{len(variants)} shorter forms)" if variants else ""
            out.print(f"<{kind}>{shorter}", style="bold cyan")
            out.print(text)
        out.print("<target>", style="bold green")
        out.print(_target_text(example, target_kind))
        if example.resolved:
            out.print(f"resolved: {', '.join(example.resolved)}", style="dim")
        for reason, names in _by_reason(example.unresolved).items():
            out.print(f"unresolved, {reason}: {', '.join(names)}", style="dim")


def _fim_around(target: Target, shown: CommitExamples) -> dict[int, tuple[str, str]]:
    """{example id: (the file before its item, after it)}, screened for secrets, for
    the items that make FIM examples (`export --target fim`, whole)."""
    from indexer.dataset.fim import Files

    files = Files(target.repo)
    found: dict[int, tuple[str, str]] = {}
    for e in shown.examples:
        text = files.around(e.kind, e.target, shown.places.get(e.id))
        if not isinstance(text, str):
            found[e.id] = ("".join(text.before), "".join(text.after))
    return found


def _unit_text(shown: CommitExamples, target_kind: str) -> str:
    """The commit's examples as one unit (`export --unit commit`), in the native
    template, whole: before the export's filters and budget."""
    import dataclasses

    from indexer.dataset.snapshot import as_example
    from indexer.dataset.units import UnitItem, make_unit, unit_text

    items = [
        UnitItem(
            dataclasses.replace(as_example(e), target=_target_text(e, target_kind)),
            e.target,
            shown.places[e.id].spans[0][0] if e.id in shown.places else 0,
        )
        for e in shown.examples
    ]
    return unit_text(make_unit(items))


def _target_text(example: StoredExample, kind: str) -> str:
    """The example's target as `export --target kind` makes it."""
    if kind in ("item", "fim"):
        return example.target
    from indexer.dataset.edits import edit_blocks, render_blocks

    old = next((text for k, text, _v in example.segments if k == "old"), "")
    return render_blocks(edit_blocks(old, example.target))


def _example_json(example: StoredExample) -> dict[str, object]:
    return {
        "path": example.path,
        "kind": example.kind,
        "name": example.name,
        "qualname": example.qualname,
        "change": example.change,
        "edit_type": example.edit_type,
        "origin": example.origin,
        "segments": [
            {"kind": kind, "text": text, "variants": list(variants)}
            for kind, text, variants in example.segments
        ],
        "target": example.target,
        "resolved": list(example.resolved),
        "unresolved": _by_reason(example.unresolved),
        "secrets": list(example.secrets),
    }


def _by_reason(unresolved: tuple[str, ...]) -> dict[str, list[str]]:
    """`Name (reason)` lines grouped: {reason: names}, in the order reasons come."""
    grouped: dict[str, list[str]] = {}
    for line in unresolved:
        name, _, reason = line.partition(" (")
        grouped.setdefault(reason.removesuffix(")") or "unknown", []).append(name)
    return grouped


@app.command()
def demo(
    path: Annotated[
        Path | None,
        typer.Argument(help="Where to create the demo repo [default: a new temp dir]."),
    ] = None,
    workers: WorkersOpt = None,
) -> None:
    """Generate a demo Rust repository with a real history, backfill it and print stats."""
    import tempfile

    from indexer.demo import build_demo_repo

    dest = path or Path(tempfile.mkdtemp(prefix="commit-indexer-demo-"))
    if dest.exists() and any(dest.iterdir()):
        raise IndexerError(f"{dest} is not empty", hint="give a new or empty folder")
    built = build_demo_repo(dest)
    out.print(f"demo repository: {built.path} ({built.commits} commits)")
    start = time.perf_counter()
    result = _run_sync(built.path, workers=workers, show_progress=True)
    seconds = time.perf_counter() - start
    out.print(f"indexed {result.commits} commits, parsed {result.blobs} blobs in {seconds:.1f}s")
    out.print()
    _print_stats(built.path, None)
    out.print()
    out.print("next:")
    out.print(f"  commit-indexer symbols Config --repo {built.path}")
    out.print(f"  commit-indexer show HEAD~1 --repo {built.path}")
    out.print(f"  commit-indexer export {built.path.parent / 'demo-export'} --repo {built.path}")


tokenizer_app = typer.Typer(help="Train or bring the tokenizer examples are tokenized with.")
app.add_typer(tokenizer_app, name="tokenizer")

_TEMPLATE_HELP = (
    "native (our tokens), starcoder (StarCoder's commit tokens) or plain (text headings"
    " and the model's end-of-text token: any model)"
)
TemplateOpt = Annotated[TemplateName, typer.Option("--template", help=f"{_TEMPLATE_HELP}.")]


def _print_tokenizer(info: TokenizerInfo) -> None:
    out.print(
        f"tokenizer {info.name} ({info.kind}, {info.vocab_size} tokens,"
        f" sha256 {info.sha256[:16]}), template {info.template}"
        + (
            " (its vocabulary has the template's tokens; --template picks another)"
            if info.inferred
            else ""
        )
    )


@tokenizer_app.command("train")
def tokenizer_train(
    vocab_size: Annotated[
        int | None,
        typer.Option(
            "--vocab-size",
            min=300,
            help="[default: 8000, or what the code's characters need]",
        ),
    ] = None,
    template: TemplateOpt = "native",
    repo: RepoOpt = Path("."),
    db: DbOpt = None,
) -> None:
    """Train the native SentencePiece model on the repo's Rust code at HEAD and use it."""
    from indexer.dataset.snapshot import train_tokenizer

    with _opened(repo, db) as target:
        _print_tokenizer(train_tokenizer(target, vocab_size, template=template))


@tokenizer_app.command("use")
def tokenizer_use(
    path: Annotated[
        Path,
        typer.Argument(
            help="A SentencePiece .model or a tokenizer.json, or a model's folder with one."
        ),
    ],
    template: Annotated[
        TemplateName | None,
        typer.Option(
            "--template",
            help=f"{_TEMPLATE_HELP} [default: the one whose tokens the tokenizer has].",
        ),
    ] = None,
    repo: RepoOpt = Path("."),
    db: DbOpt = None,
) -> None:
    """Tokenize examples with your model's own tokenizer from now on."""
    from indexer.dataset.snapshot import use_tokenizer

    with _opened(repo, db) as target:
        _print_tokenizer(use_tokenizer(target, path, template))


@app.command("export")
def export_command(
    out_dir: Annotated[Path, typer.Argument(metavar="OUT", help="The folder to write.")],
    fmt: Annotated[Format, typer.Option("--format")] = "jsonl",
    at: Annotated[str, typer.Option("--at", help="Export what is reachable from REV.")] = "HEAD",
    template: Annotated[
        TemplateName | None, typer.Option("--template", help="[default: the repo's].")
    ] = None,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=16)] = 2048,
    split: Annotated[
        SplitRule,
        typer.Option(
            "--split",
            help="lineage: every version of an item in one split; commit: every example of"
            " a commit; time: oldest in train, newest in test; repo: the whole repo.",
        ),
    ] = "lineage",
    ratios: Annotated[
        str, typer.Option("--ratios", help="train,validation,test, e.g. 0.8,0.1,0.1.")
    ] = "0.9,0.05,0.05",
    keep: Annotated[
        list[Filter] | None, typer.Option("--keep", help="Switch a filter off (repeatable).")
    ] = None,
    min_lines: Annotated[
        int, typer.Option("--min-lines", help="Non-blank lines a target needs at least.")
    ] = 2,
    max_per_commit: Annotated[
        int, typer.Option("--max-per-commit", help="Examples of one commit kept at most.")
    ] = 64,
    context: Annotated[
        ContextMode,
        typer.Option("--context", help="The definitions from other files (an ablation)."),
    ] = "full",
    message: Annotated[
        MessageMode, typer.Option("--message", help="The message segment: cleaned, or its subject.")
    ] = "full",
    dedup: Annotated[
        DedupMode,
        typer.Option(
            "--dedup",
            help="exact: an example of equal segments and target once; near: also targets"
            " alike by MinHash.",
        ),
    ] = "exact",
    near_threshold: Annotated[
        float,
        typer.Option("--near-threshold", min=0.0, max=1.0, help="Jaccard similarity for near."),
    ] = 0.85,
    shard_size: Annotated[
        str,
        typer.Option(
            "--shard-size",
            help="A jsonl or parquet split larger than this (500MB, 20KB, 1GB) is cut into"
            " files of about this size: train-00000-of-00003.parquet.",
        ),
    ] = "500MB",
    target_kind: Annotated[
        TargetKind | None,
        typer.Option(
            "--target",
            help="item: the item's whole new code; edit: search/replace blocks against its"
            " old code (loss on the blocks) [default: item; edit with --unit commit].",
            show_default=False,
        ),
    ] = None,
    unit: Annotated[
        UnitKind,
        typer.Option(
            "--unit",
            help="item: an example per changed item; commit: one per commit, every item's"
            " target after its message and context (cut by file into parts to fit).",
        ),
    ] = "item",
    pack_to: Annotated[
        int | None,
        typer.Option(
            "--pack",
            min=16,
            help="Pack each split's examples end to end into sequences of at most N tokens"
            " (labels kept per example, position_ids from 0 at each) [default: unpacked].",
        ),
    ] = None,
    repos: Annotated[
        list[Path] | None,
        typer.Option(
            "--repo",
            "-C",
            help="The repository (a work tree or git dir); repeated, repos of one store"
            " (`--db`) in one export [default: .].",
        ),
    ] = None,
    all_repos: Annotated[
        bool,
        typer.Option(
            "--all-repos", help="Every repo of the store whose git dir is here, after --repo."
        ),
    ] = False,
    db: DbOpt = None,
) -> None:
    """Write the dataset as it stands: train/validation/test files, README.md and manifest.json."""
    from indexer.dataset.curate import Curation, check_keep
    from indexer.dataset.export import parse_size
    from indexer.dataset.snapshot import ensure_tokenizer, export_snapshot
    from indexer.dataset.splits import parse_ratios
    from indexer.progress_bars import export_bar

    curation = Curation(check_keep([k.value for k in keep or []]), min_lines, max_per_commit)
    shard_bytes = parse_size(shard_size, "--shard-size")
    split_ratios = parse_ratios(ratios)
    with contextlib.ExitStack() as stack:
        target, *also = [stack.enter_context(_opened(r, db)) for r in repos or [Path(".")]]
        if all_repos:
            also += [
                stack.enter_context(_opened(Path(path), target.store.url))
                for path in _other_repos(target, also)
            ]
        trained = ensure_tokenizer(target)
        if trained is not None:
            out.print(
                f"no tokenizer set: trained the native one on this repo's code at HEAD"
                f" (vocabulary {trained.vocab_size}); `commit-indexer tokenizer use PATH`"
                " sets your model's own"
            )
        with export_bar(err) as update:
            manifest = export_snapshot(
                target,
                out_dir,
                fmt,
                at=at,
                template=template,
                max_tokens=max_tokens,
                split=split,
                on_progress=update,
                dedup=dedup,
                near_threshold=near_threshold,
                ratios=split_ratios,
                curation=curation,
                context=context,
                message=message,
                shard_bytes=shard_bytes,
                pack_to=pack_to,
                also=also,
                target_kind=target_kind,
                unit=unit,
            )
    _print_export(manifest, out_dir)


def _other_repos(target: Target, also: list[Target]) -> list[str]:
    """The git dirs of the store's other repos here, but those given already."""
    from indexer.store import translate_errors
    from indexer.store.commits import repos_here

    given = {target.repo_id, *(t.repo_id for t in also)}
    with translate_errors(target.store.url), target.store.connect() as conn:
        return [path for rid, path in repos_here(conn) if rid not in given]


def _print_export(manifest: Manifest, out_dir: Path) -> None:
    counts = ", ".join(f"{n} {name}" for name, n in manifest.counts.items())
    funnel = manifest.extra["funnel"]
    pack_to = manifest.extra["settings"].get("pack")
    units = manifest.extra.get("units")
    what = "examples"
    if units is not None:
        what = f"commit units, holding {units.get('items', 0)} examples"
    if pack_to:
        exported = sum(funnel["exported"].values())
        what = f"sequences of at most {pack_to} tokens, packing {exported} examples"
    out.print(f"wrote {sum(manifest.counts.values())} {what} ({counts}) to {out_dir}")
    left_out = ", ".join(f"{n} {reason}" for reason, n in funnel["left_out"].items() if n)
    out.print(
        f"of {funnel['examples']} examples stored for {funnel['commits']} commits;"
        f" left out: {left_out or 'none'}"
    )
    skips = manifest.extra.get("skips") or {}
    if skips:
        out.print(
            "changes that made no example: "
            + ", ".join(f"{n} {k}" for k, n in sorted(skips.items()))
        )
    for split, shares in manifest.extra["splits_off_ratio"].items():
        err.print(
            f"warning: {split} is {shares['share']:.1%} of the examples, not"
            f" {shares['ratio']:.0%}; a few item histories (or commits) hold many of them"
        )


@app.command("report")
def report_command(
    out_file: Annotated[
        Path | None,
        typer.Argument(
            metavar="[OUT.html]",
            help="Where to write the page [default: report.html in the store's folder].",
        ),
    ] = None,
    at: Annotated[str, typer.Option("--at", help="Report what is reachable from REV.")] = "HEAD",
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=16)] = 2048,
    repo: RepoOpt = Path("."),
    db: DbOpt = None,
) -> None:
    """One HTML page of plots about the data: over time, token lengths, the curation
    funnel, context coverage, the most-changed items, skips. Open it in a browser."""
    from indexer.git import common_dir
    from indexer.progress_bars import export_bar
    from indexer.report import build_report

    with _opened(repo, db) as target:
        path = out_file or common_dir(target.repo) / "commit-indexer" / "report.html"
        with export_bar(err, "reading") as update:
            page = build_report(target, at, max_tokens, on_progress=update)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise IndexerError(
            f"cannot write the report to {path}: {exc.strerror or exc}",
            hint="give another path: `commit-indexer report OUT.html`",
        ) from None
    plots = page.count('class="plot"')
    out.print(f"wrote {path} ({plots} plots)")


@app.command("gc")
def gc_command(
    remotes: Annotated[
        bool, typer.Option("--remotes", help="Keep what remote-tracking branches reach too.")
    ] = False,
    drop_repos_not_here: Annotated[
        bool,
        typer.Option(
            "--drop-repos-not-here",
            help="Also drop the store's repos whose git dir is not on this machine"
            " (moved or deleted; on a store shared by machines, other machines' too).",
        ),
    ] = False,
    repo: RepoOpt = Path("."),
    db: DbOpt = None,
) -> None:
    """Remove commits no ref reaches any more, and the blobs and examples only they had."""
    from indexer.index.sync import gc

    with _opened(repo, db) as target:
        collected, dropped = gc(target, remotes, drop_repos_not_here)
    for path in dropped:
        out.print(f"dropped the repo at {path}, which is not on this machine")
    out.print(
        f"removed {collected.commits} commits, {collected.examples} examples,"
        f" {collected.blobs} blobs that nothing reachable uses"
    )


@app.command("doctor")
def doctor_command(
    repair: Annotated[
        bool, typer.Option("--repair", help="Fix what can be fixed; the store is rebuilt from git.")
    ] = False,
    repo: RepoOpt = Path("."),
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check the store against git: integrity, schema, orphan rows, missing blobs and
    examples, stale tips, unreachable commits. Exits 1 if a problem remains."""
    import dataclasses

    from indexer.doctor import doctor

    report = doctor(str(repo), db, repair)
    if as_json:
        _print_json(
            {
                "store": report.url,
                "repaired": list(report.repaired),
                "findings": [dataclasses.asdict(f) for f in report.findings],
                "problems": len(report.problems),
            }
        )
        if report.problems:
            raise typer.Exit(1)
        return
    out.print(f"store      {report.url}")
    for action in report.repaired:
        out.print(f"repaired   {action}")
    for finding in report.findings:
        out.print(f"{finding.level:<10} {finding.check}: {finding.message}")
        if finding.hint and finding.level != "ok":
            out.print(f"{'':<10} hint: {finding.hint}")
    problems = len(report.problems)
    if problems:
        fix = "" if repair else " (`commit-indexer doctor --repair` fixes what it can)"
        out.print(f"{problems} problem{'s' if problems > 1 else ''}{fix}")
        raise typer.Exit(1)
    out.print("no problems")


@app.command("watch")
def watch_command(repo: RepoOpt = Path("."), db: DbOpt = None) -> None:
    """Sync whenever the refs move (for commits made where no hook runs). Ctrl-C stops."""
    from indexer.git import open_repo
    from indexer.watch import watch

    open_repo(str(repo))  # a clear error before anything starts
    err.print(f"watching {repo.resolve()} (Ctrl-C to stop); each sync is logged in hook.log")
    try:
        watch(str(repo), db, on_sync=lambda: err.print("synced"))
    except KeyboardInterrupt:
        err.print("stopped")


hook_app = typer.Typer(help="Capture every commit: git hooks that feed the indexer.")
app.add_typer(hook_app, name="hook")


def _print_hooks(states: list[HookState]) -> None:
    for state in states:
        by = f" ({state.manager}'s)" if state.manager else ""
        if state.by_pre_commit:
            line = (
                f"{state.hook_type:<14} run by pre-commit (commit-indexer in"
                f" .pre-commit-config.yaml){', and by ours: twice' if state.installed else ''}"
            )
        elif state.installed:
            under = f", run by {state.under}'s hook" if state.under else ""
            chained = f", runs {state.chained.name}{by} first" if state.chained else ""
            line = f"{state.hook_type:<14} installed{under}{chained}  ({state.path})"
        elif state.foreign:
            line = f"{state.hook_type:<14} not installed (another hook{by} is there)"
        else:
            line = f"{state.hook_type:<14} not installed"
        out.print(line)
        if state.pre_commit_config and not state.by_pre_commit and not state.installed:
            out.print(
                f"{'':<14} .pre-commit-config.yaml runs commit-indexer here, but pre-commit"
                f" is not installed for it: `pre-commit install -t {state.hook_type}`"
            )
        if state.set_aside and not state.installed:
            out.print(
                f"{'':<14} ours is at {state.set_aside}, where git never runs it: "
                "run `commit-indexer hook install` again to chain the hook there now"
            )


@hook_app.command("install")
def hook_install(repo: RepoOpt = Path(".")) -> None:
    """Install the hooks (post-commit, post-merge, post-rewrite, post-checkout)."""
    from indexer.hooks import install

    _print_hooks(install(str(repo)))


@hook_app.command("uninstall")
def hook_uninstall(repo: RepoOpt = Path(".")) -> None:
    """Remove the hooks and put back the ones they chained."""
    from indexer.hooks import uninstall

    _print_hooks(uninstall(str(repo)))


@hook_app.command("status")
def hook_status(repo: RepoOpt = Path("."), db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Which hooks are installed, what they chain, and what the last runs logged."""
    import dataclasses

    from indexer.hooks import last_log_lines, status
    from indexer.index.sync import behind

    states = status(str(repo))
    log = last_log_lines(str(repo))
    lag: int | None = None
    try:
        with _opened(repo, db) as target:
            lag = behind(target)
    except IndexerError as exc:  # status still helps when the store is what is broken
        why = exc.message
    if as_json:
        hooks = [
            {**dataclasses.asdict(state), "by_pre_commit": state.by_pre_commit} for state in states
        ]
        _print_json({"hooks": hooks, "log": log, "behind": lag})
        return
    _print_hooks(states)
    for line in log:
        out.print(f"log: {line}")
    if lag is None:
        out.print(f"behind: unknown ({why})")
    else:
        out.print(f"behind: {lag} commits reachable from HEAD not indexed yet")


@app.command("hook-run", hidden=True)
def hook_run(
    hook_type: Annotated[
        str | None, typer.Option("--type", help="[default: what pre-commit says, else post-commit]")
    ] = None,
    repo: RepoOpt = Path("."),
    db: DbOpt = None,
    detach: Annotated[
        bool, typer.Option("--detach", help="Return at once; sync in a detached process.")
    ] = False,
    lock_fd: Annotated[int | None, typer.Option("--lock-fd", hidden=True)] = None,
) -> None:
    """What an installed hook runs in the background. Never fails: errors go to the log."""
    from indexer import hooks

    hook_type = hook_type or hooks.hook_type_from_pre_commit()
    try:
        if detach:  # for hook managers (pre-commit, lefthook) that wait for their hooks
            hooks.start_detached(str(repo.resolve()), hook_type, db)
        else:
            hooks.run_detached(str(repo), hook_type, db, lock_fd)
    except Exception:  # not even opening the repo may break a commit
        pass


# The cyclic garbage collector ran ~500 times a backfill of rust-lang/log, mostly over
# objects that live for the whole command (modules, the symbol table's caches), for a
# tenth of its CPU; reference counting frees almost everything the indexer drops.
# Collecting every 50,000 new containers instead of 700 keeps it for the rare cycle.
# A forked parser worker inherits it.
GC_THRESHOLDS = (50_000, 50, 100)


def main() -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        app()
    finally:
        # The interpreter's teardown still runs (exit handlers, flushing, the exit
        # status), but its collections skip what the command made, which took a
        # third of a short command's time (docs/speed.md).
        gc.freeze()
