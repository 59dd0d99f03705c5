"""Secrets: planted credentials never reach an export, in either mode; ordinary Rust
code is not flagged."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest
from gitrepo import Repo, cli, count, db_url, make_repo, rows_at
from planted import (
    API_KEY,
    AWS,
    DISCORD,
    GITHUB,
    GITLAB,
    IBM_HMAC,
    IBM_IAM,
    KEY_BODY,
    PASSWORD,
    PLANTED,
    PRIVATE_KEY,
    SENDGRID,
    SLACK,
    STRIPE,
    TELEGRAM,
    TYPED,
)

from indexer.dataset.curate import FILTERS
from indexer.dataset.tokenizer import Tokenizer
from indexer.demo import build_demo_repo
from indexer.secrets import _maybe, scan_example
from indexer.shapes import Example, Segment
from indexer.store import examples as example_store
from indexer.store import open_target

SECRETS = (AWS, GITHUB, SLACK, STRIPE, API_KEY, f":{PASSWORD}@", *KEY_BODY)

CONFIG = f'''pub struct Config {{
    pub url: String,
}}

/// Where the production database lives.
pub fn database_url() -> String {{
    "postgres://admin:{PASSWORD}@db.internal:5432/app".to_string()
}}

pub fn aws_key_id() -> &'static str {{
    "{AWS}"
}}
'''
CLIENT = f'''use crate::config::Config;

pub fn client(config: &Config) -> Client {{
    let api_key = "{API_KEY}";
    Client::new(&config.url, api_key)
}}

const SIGNING_KEY: &str = "{PRIVATE_KEY}";

pub fn notify() {{
    let slack = "{SLACK}"; let stripe = "{STRIPE}";
    send(slack, stripe)
}}
'''


def _secret_history(tmp_path: Path) -> Repo:
    """A small history with secrets in code, in a changed item's old code, in a
    definition other files use, and in a commit message."""
    repo = make_repo(tmp_path)
    repo.commit({"src/config.rs": CONFIG}, "Add config")
    repo.commit({"src/client.rs": CLIENT}, f"Add the client (token {GITHUB} for CI)")
    repo.commit(
        {"src/client.rs": CLIENT.replace("Client::new(", "Client::connect(")},
        "Connect instead of new",
    )
    repo.commit({"src/lib.rs": "pub fn answer() -> u8 {\n    42\n}\n"}, "Add answer")
    return repo


def _export_text(folder: Path, data_only: bool = False) -> str:
    """Every string the export holds: jsonl as text, parquet read back (its pages are
    compressed, so the file's bytes would hide a leak), the card and the manifest."""
    import pyarrow.parquet as pq

    parts = []
    for path in sorted(folder.iterdir()):
        if data_only and path.suffix not in (".jsonl", ".parquet"):
            continue
        if path.suffix == ".model":  # the SentencePiece model: its pieces
            import sentencepiece

            sp = sentencepiece.SentencePieceProcessor(model_file=str(path))
            parts += [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
        elif path.suffix == ".parquet":
            for row in pq.read_table(path).to_pylist():
                parts += [v for v in row.values() if isinstance(v, str)]
                parts += [s["kind"] + "\n" + s["text"] for s in row["segments"]]
        else:
            parts.append(path.read_text(encoding="utf-8"))
    return "\n".join(parts)


def _decoded(repo: Repo, folder: Path) -> str:
    """The text the exported token ids decode to."""
    target = open_target(str(repo.path))
    with target.store.connect() as conn:
        stored = example_store.repo_tokenizer(conn, target.repo_id)
    target.close()
    tokenizer = Tokenizer.from_bytes(stored.kind, stored.data, stored.name)
    return "\n".join(
        tokenizer.decode(json.loads(line)["input_ids"])
        for split in ("train", "validation", "test")
        for line in (folder / f"{split}.jsonl").read_text().splitlines()
    )


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_redact_keeps_the_examples_and_no_secret_reaches_the_export(
    tmp_path: Path, fmt: str
) -> None:
    repo = _secret_history(tmp_path)
    assert cli("backfill", "--repo", repo.path).exit_code == 0
    out = tmp_path / "out"
    keep_all = [f for name in FILTERS for f in ("--keep", name)]  # one-line consts too
    result = cli("export", out, "--format", fmt, "--repo", repo.path, *keep_all)
    assert result.exit_code == 0, result.output
    text = _export_text(out)
    if fmt == "jsonl":
        text += _decoded(repo, out)
    leaked = [s for s in SECRETS if s in text]
    assert leaked == []
    for detector in ("AWSKeyDetector", "BasicAuthDetector", "KeywordDetector", "SlackDetector"):
        assert f"<secret:{detector}>" in text
    assert "<secret:PrivateKeyDetector>" in text and "<secret:GitHubTokenDetector>" in text
    # The rest of each line stays: the code around a secret is still code.
    assert '"postgres://admin<secret:BasicAuthDetector>db.internal:5432/app"' not in text
    assert "postgres://admin:<secret:BasicAuthDetector>@db.internal:5432/app" in text
    assert 'const SIGNING_KEY: &str = "<secret:PrivateKeyDetector>";' in text
    manifest = json.loads((out / "manifest.json").read_text())
    secrets = manifest["secrets"]
    assert secrets["dropped_examples"] == 0 and "secret" not in manifest["skips"]
    assert secrets["redacted_examples"] >= 5  # database_url, aws_key_id, client x2, notify...
    assert secrets["redacted_secrets"] == sum(secrets["redacted"].values())
    # (the GitHub token of a message is redacted as the commit is read, before any
    # example is built: it is in no example's count)
    assert set(secrets["redacted"]) >= {
        "AWSKeyDetector",
        "BasicAuthDetector",
        "KeywordDetector",
        "PrivateKeyDetector",
        "SlackDetector",
        "StripeDetector",
    }
    assert sum(manifest["counts"].values()) == count(db_url(repo), "SELECT count(*) FROM examples")
    redacted = count(db_url(repo), "SELECT count(*) FROM examples WHERE secrets != ''")
    assert f"redacted   {redacted} examples" in cli("stats", "--repo", repo.path).output


@pytest.mark.parametrize("how", ["git-config", "option"])
def test_drop_leaves_out_every_example_holding_a_secret(tmp_path: Path, how: str) -> None:
    repo = _secret_history(tmp_path)
    args = ["backfill", "--repo", repo.path]
    if how == "git-config":
        repo.git("config", "commit-indexer.secrets", "drop")
    else:
        args += ["--secrets", "drop"]
    assert cli(*args).exit_code == 0
    for fmt in ("jsonl", "parquet"):
        out = tmp_path / fmt
        assert cli("export", out, "--format", fmt, "--repo", repo.path).exit_code == 0
        assert [s for s in SECRETS if s in _export_text(out)] == []
        assert "<secret:" not in _export_text(out, data_only=True)
        manifest = json.loads((out / "manifest.json").read_text())
        # Every example of the client's two commits holds a secret in its code, and
        # config's database_url and aws_key_id do.
        assert manifest["skips"]["secret"] == manifest["secrets"]["dropped_examples"] >= 6
        assert manifest["secrets"]["redacted_examples"] == 0
        if fmt == "jsonl":
            names = {
                json.loads(line)["qualname"]
                for split in ("train", "validation", "test")
                for line in (out / f"{split}.jsonl").read_text().splitlines()
            }
            assert names == {"Config", "answer"}  # the two items with no secret near them
    assert "secret" in cli("stats", "--repo", repo.path).output


def test_the_hook_honours_the_git_config(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    repo.git("config", "commit-indexer.secrets", "drop")
    assert cli("hook", "install", "--repo", repo.path).exit_code == 0
    repo.commit({"src/config.rs": CONFIG}, "Add config")
    url = db_url(repo)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if count(url, "SELECT count(*) FROM example_skips WHERE reason = 'secret'"):
                break
        except Exception:  # the store may not exist yet
            pass
        time.sleep(0.1)
    assert count(url, "SELECT sum(count) FROM example_skips WHERE reason = 'secret'") == 2
    assert count(url, "SELECT count(*) FROM examples") == 1  # Config itself
    running = repo.path / ".git" / "commit-indexer" / "sync.running"
    while running.exists() and time.monotonic() < deadline:
        time.sleep(0.1)  # let the background sync end before the folder is removed


def test_a_bad_setting_is_an_error_with_a_hint(repo: Repo) -> None:
    repo.commit({"src/lib.rs": "pub fn a() {}\n"})
    result = cli("backfill", "--repo", repo.path, "--secrets", "hide")
    assert result.exit_code == 2
    assert "error: Invalid value for '--secrets': 'hide' is not one of 'redact', 'drop'" in (
        result.output
    )
    assert "hint: `commit-indexer backfill -h`" in result.output
    repo.git("config", "commit-indexer.secrets", "maybe")
    result = cli("sync", "--repo", repo.path)
    assert result.exit_code == 2 and "commit-indexer.secrets" in result.output


def _example(target: str, **segments: str) -> Example:
    return Example(
        "0" * 40,
        None,
        "src/a.rs",
        "fn",
        "f",
        "f",
        "added",
        tuple(Segment(kind, text) for kind, text in segments.items()),
        target,
    )


@pytest.mark.parametrize(
    "code",
    [
        # A PEM parser's constants are not keys: there is no key material after them.
        'const RSA: &str = "-----BEGIN RSA PRIVATE KEY-----";\n'
        'const END: &str = "-----END RSA PRIVATE KEY-----";',
        # A secret-looking name with a low-entropy value (a test's fixture) is not flagged.
        'fn login() {\n    let password = "hunter2";\n    check(password)\n}',
        "fn test_parse_configuration_with_defaults_and_overrides_from_env() {}",
        "/// See https://docs.rs/serde/latest/serde/ for the details.\nfn f() {}",
        'const API_VERSION: &str = "v1";\nconst SECRET_HEADER: &str = "x-secret";',
        'let digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";',
    ],
)
def test_ordinary_rust_is_not_flagged(code: str) -> None:
    example = _example(code, msg="This reverts commit 5982fa4e522059f5c544bdf4edcb90307682b177.")
    cleaned, findings = scan_example(example)
    assert findings == () and cleaned is example


@pytest.mark.parametrize(
    ("line", "secret", "detector"),
    [
        (f'let bot = "{DISCORD}";', DISCORD, "DiscordBotTokenDetector"),
        (f'let bot = "{TELEGRAM}";', TELEGRAM, "TelegramBotTokenDetector"),
        (f'let ibm_cloud_iam_key = "{IBM_IAM}";', IBM_IAM, "IbmCloudIamDetector"),
        (f"// key:{IBM_IAM}", IBM_IAM, "IbmCloudIamDetector"),
        (f'let cos_secret_access_key = "{IBM_HMAC}";', IBM_HMAC, "IbmCosHmacDetector"),
        (f'let gitlab = "{GITLAB}";', GITLAB, "GitLabTokenDetector"),
        (f'let sendgrid = "{SENDGRID}";', SENDGRID, "SendGridDetector"),
    ],
)
def test_long_tokens_pass_the_prefilter_and_are_redacted(
    line: str, secret: str, detector: str
) -> None:
    """The prefilter finds these by the shape of the whole token (and, for an assigned
    value, the name it is assigned to): each must still reach detect-secrets."""
    cleaned, findings = scan_example(_example(f"fn f() {{\n    {line}\n}}"))
    assert detector in [f.detector for f in findings]
    assert secret not in repr(cleaned)


@pytest.mark.parametrize(
    "line",
    [
        "    fn test_serde_levelfilter_serialize_deserialize() {",
        '    "tests/ui/delegation/glob-glob.rs",',
        "    let index_of_header = MSG.find(header).unwrap();",
        "4304:  48 8d 05 1d bd 02 00  lea  0x2bd1d(%rip),%rax  # 30028"
        " <anon.7cf0325160a81106a62a3eb77a18e0e0.0.llvm.16433780892884680004+0x30>",
    ],
)
def test_long_names_do_not_reach_detect_secrets(line: str) -> None:
    """rust-lang/log's and dtolnay/syn's histories have these (a test name,
    disassembly in a commit message, paths, a constant): letting one through cost a
    worker 0.15 s to import detect-secrets."""
    assert not _maybe(line)


def test_a_secret_in_a_shorter_variant_is_redacted_too() -> None:
    text = f"pub struct Keys {{\n    pub id: u8, // {AWS}\n}}"
    variants = (text.replace("\n", "", 1),)
    segments = (Segment("ctx_struct", text, variants),)
    example = dataclasses.replace(_example("fn f() {}"), segments=segments)
    cleaned, findings = scan_example(example)
    assert [f.detector for f in findings] == ["AWSKeyDetector"]  # counted once
    assert AWS not in repr(cleaned) and cleaned.secrets == ("AWSKeyDetector",)


def test_the_demo_repo_has_no_false_positive(tmp_path: Path) -> None:
    demo = build_demo_repo(tmp_path / "demo")
    assert cli("backfill", "--repo", demo.path).exit_code == 0
    url = f"sqlite:///{demo.path / '.git' / 'commit-indexer' / 'index.db'}"
    assert count(url, "SELECT count(*) FROM examples WHERE secrets != ''") == 0
    assert count(url, "SELECT count(*) FROM example_skips WHERE reason = 'secret'") == 0
    target = open_target(str(demo.path))
    with target.store.connect() as conn:
        oids = [oid for (oid,) in conn.exec_driver_sql("SELECT oid FROM commits")]
        stored = example_store.examples_of(conn, target.repo_id, oids)
    target.close()
    assert len(stored) > 100
    for row in stored:
        segments = tuple(Segment(k, t, v) for k, t, v in row.segments)
        example = dataclasses.replace(_example(row.target), segments=segments)
        assert scan_example(example)[1] == ()


def test_twenty_kinds_of_planted_secrets_reach_no_export_and_no_show(tmp_path: Path) -> None:
    import torch

    repo = make_repo(tmp_path)
    repo.commit({"src/lib.rs": "pub mod typed;\n"}, "start")
    repo.commit({"src/typed.rs": TYPED}, "Add the typed settings")
    message = (
        "Rotate the keys\n\nexport AWS_SECRET_ACCESS_KEY="
        f"{PLANTED['export in a message']}\n\n"
        f"Co-authored-by: Jane Doe <{PLANTED['e-mail in a trailer']}>\n"
    )
    named = f"src/{PLANTED['token in a file name']}.rs"
    repo.commit({"src/typed.rs": TYPED.replace("roster", "roster2"), named: TYPED}, message)
    assert cli("backfill", "--repo", repo.path).exit_code == 0
    texts = []
    for fmt in ("jsonl", "parquet", "pt"):
        out = tmp_path / fmt
        result = cli("export", out, "--format", fmt, "--repo", repo.path)
        assert result.exit_code == 0, result.output
        if fmt == "pt":
            for split in ("train", "validation", "test"):
                data = torch.load(out / f"{split}.pt", weights_only=True)
                texts.append(bytes(data["meta"].tolist()).decode("utf-8"))
        else:
            texts.append(_export_text(out))
    texts.append(_decoded(repo, tmp_path / "jsonl"))
    for rev in ("HEAD", "HEAD~1"):
        shown = cli("show", rev, "--repo", repo.path)
        assert shown.exit_code == 0, shown.output
        texts.append(shown.output)
    text = "\n".join(texts)
    leaked = sorted(kind for kind, secret in PLANTED.items() if secret in text)
    assert leaked == [], leaked
    assert "Rotate the keys" in text
    # what the store keeps of the commits: no secret, no e-mail (the message segment is
    # cleaned of its trailers: `messages.clean`)
    stored = "\n".join(
        str(row) for row in rows_at(db_url(repo), "SELECT message, author_email FROM commits")
    )
    assert "<email>" in stored
    assert not [kind for kind, secret in PLANTED.items() if secret in stored]
    assert "test@example.com" not in stored


def test_a_text_scanned_again_is_redacted_and_counted_again() -> None:
    """A definition holding a secret is context for many examples, and each text is
    scanned once (`_SCANNED`): every example still gets it redacted, its findings
    counted under its own segment's kind."""
    text = f"pub struct Keys {{\n    pub id: u8, // {AWS}\n}}"
    for kind in ("ctx_struct", "edit_struct", "ctx_struct"):
        example = dataclasses.replace(_example("fn f() {}"), segments=(Segment(kind, text),))
        cleaned, findings = scan_example(example)
        assert [(f.detector, f.where, f.line) for f in findings] == [("AWSKeyDetector", kind, 2)]
        assert AWS not in repr(cleaned)


@pytest.mark.parametrize(
    ("code", "kept"),
    [
        ("macro_rules! m { (@arg $x:ident) => {}; }\n// by dev@host.example.org", False),
        ("match n { x @ 1..=9 => x, _ => 0 } // mail: a.b+c@mail.co", False),
        ("macro_rules! m { (@arg $x:ident) => {}; (@sub.x) => {}; }", True),
    ],
)
def test_emails_are_replaced_beside_the_other_uses_of_an_at(code: str, kept: bool) -> None:
    cleaned, _findings = scan_example(_example(code))
    assert (cleaned.target == code) is kept
    assert "@host" not in cleaned.target and "@mail" not in cleaned.target


def test_the_shipped_tokenizer_learnt_no_secret(tmp_path: Path) -> None:
    """The native tokenizer ships in the export: it is trained on the code with its
    secrets redacted, so no piece of its vocabulary is a piece of a secret, even one
    the code repeats often enough for BPE to learn it."""
    repo = make_repo(tmp_path)
    files = {
        f"src/m{i}.rs": f'pub fn token_{i}() -> &\'static str {{\n    "{GITHUB}"\n}}\n'
        for i in range(60)
    }
    repo.commit(files, "Add the tokens")
    assert cli("backfill", "--repo", repo.path).exit_code == 0
    out = tmp_path / "out"
    assert cli("export", out, "--repo", repo.path).exit_code == 0
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_file=str(out / "tokenizer.model"))
    pieces = {sp.id_to_piece(i).replace("\u2581", " ") for i in range(sp.get_piece_size())}
    learnt = [p for p in pieces if len(p) >= 6 and p in GITHUB]
    assert learnt == [], learnt
    assert any(len(p) >= 6 and p in "<secret:GitHubTokenDetector>" for p in pieces)
