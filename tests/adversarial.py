"""One adversarial history: every awkward commit, file and name a real Rust repository
can hold, built in a tmp dir with fixed names and dates (the same oids on every run).

`adversarial_history` is the one place such a history is built; the tests of
test_adversarial.py backfill, hook-sync and export it, and test_bad_input.py reuses
its pieces (the constants and commit helpers) one at a time.
"""

from __future__ import annotations

from pathlib import Path

from gitrepo import EPOCH, Repo, make_repo

FILE_PROTOCOL = ("-c", "protocol.file.allow=always")  # git >= 2.38 refuses file:// otherwise
IDENT = f"Test Author <test@example.com> {EPOCH} +0000".encode()

NORMAL = {"src/lib.rs": "pub fn normal() {}\n"}
SYNTAX_ERROR = "fn broken( {\n}\nfn ok() {}\n"
BINARY = b"pub fn bin() {}\n\0\0\0\n"
LATIN1_SOURCE = b'pub fn f() { let s = "caf\xe9"; }\n'
DEEP_PARENS = "fn deep() -> i32 { " + "(" * 5000 + "1" + ")" * 5000 + " }\n"
# Not in the history: its store grows with the square of the depth (see
# test_deep_nesting_stores_in_proportion_to_the_file), ~110 MB for every test.
DEEP_MODS = "mod a { " * 5000 + "fn deep() {}" + " }" * 5000 + "\n"
# rustc accepts a byte order mark and CRLF line ends; so must the index.
BOM_CRLF = "\ufefffn first() {}\r\n\r\nstruct Second;\r\nfn third() {\r\n    1\r\n}\r\n"


def _minified_fn(n: int) -> str:
    numbers = ",".join(str((n * 7919 + k * 104729) % 10000) for k in range(2040))
    return f"pub fn m{n}()->&'static[u32]{{&[{numbers}]}}"


# Minified code: 2 MB on one line, 200 functions of 10 kB each.
MINIFIED = "".join(_minified_fn(n) for n in range(200))
MANY_FILES = 300
CONFLICT_BASE = "pub fn base() {}\n"
CONFLICT_RESOLVED = "pub fn ours() {}\npub fn theirs() {}\n"
# Big enough that a small edit keeps git's rename similarity over 50%.
RENAMED = "".join(f"pub fn step{n}(x: u32) -> u32 {{\n    x + {n}\n}}\n\n" for n in range(12))
RESTORED = "pub struct Restored {\n    pub id: u64,\n}\n"
ODD_NAMES = ("src/my file.rs", "src/ünï.rs", "src/-dash.rs", "src/caf\udce9.rs")  # b"caf\xe9"

# What backfilling the history records, for the tests to compare against.
SKIPPED = {"binary": 1, "non_utf8": 1, "submodule": 1, "symlink": 2, "too_large": 1}
PARTIAL = {"syntax_error": 1}


def merge(repo: Repo, *branches: str, check: bool = True) -> None:
    repo.clock += 1
    message = f"merge {', '.join(branches)}"
    repo.git("merge", "-q", "--no-ff", "-m", message, *branches, check=check)


def latin1_message(repo: Repo) -> str:
    """A commit whose message is latin-1 bytes, declared by i18n.commitEncoding."""
    message = repo.path / ".git" / "LATIN1_MSG"  # a file: argv cannot carry raw bytes
    message.write_bytes(b"caf\xe9 cr\xe8me\n")
    repo.clock += 1
    encoding = ("-c", "i18n.commitEncoding=ISO-8859-1")
    repo.git(*encoding, "commit", "-q", "--allow-empty", "-F", str(message))
    return repo.head()


def raw_commit(
    repo: Repo, parent: str, message: bytes, extra: bytes = b"", ident: bytes = IDENT
) -> str:
    """Write a commit object by hand, as git's porcelain never would; its oid."""
    tree = repo.git("rev-parse", "HEAD^{tree}").encode()
    headers = [b"tree " + tree, b"parent " + parent.encode()]
    headers += [b"author " + ident, b"committer " + ident]
    raw = repo.path / ".git" / "RAW_COMMIT"
    raw.write_bytes(b"\n".join(headers) + b"\n" + extra + b"\n" + message)
    return repo.git("hash-object", "-t", "commit", "-w", "--literally", str(raw))


def bogus_encoding(repo: Repo) -> str:
    """A commit on branch `bogus` whose `encoding` header names no codec."""
    oid = raw_commit(repo, repo.head(), b"caf\xe9 cr\xe8me\n", extra=b"encoding bogus-enc\n")
    repo.git("update-ref", "refs/heads/bogus", oid)
    return oid


def shallow_clone(repo: Repo, dest: Path, depth: int, branch: str = "main") -> Repo:
    """`git clone --depth` of `repo` through a file:// URL (a local path would copy
    the whole history: git ignores --depth for local clones)."""
    url = f"file://{repo.path}"
    repo.git(*FILE_PROTOCOL, "clone", "-q", "--depth", str(depth), "-b", branch, url, str(dest))
    return Repo(dest)


def adversarial_history(repo: Repo) -> dict[str, str]:
    """Fill the empty repository `repo` (its folder's parent gets a `dep` repo for the
    submodule) with the history; the oids of its notable commits, by name.

    Every commit is made with git's porcelain where one exists, so installed hooks see
    it as a user's would; HEAD ends detached on a commit no branch holds.
    """
    marks: dict[str, str] = {}
    marks["root"] = repo.commit({**NORMAL, "src/restored.rs": RESTORED}, "root")
    marks["empty"] = repo.commit({}, "empty")
    marks["bad_blobs"] = repo.commit(
        {"src/bin.rs": BINARY, "src/latin.rs": LATIN1_SOURCE, "src/broken.rs": SYNTAX_ERROR},
        "binary, latin-1, invalid syntax",
    )
    marks["minified"] = repo.commit({"src/minified.rs": MINIFIED}, "2 MB on one line")
    marks["deep"] = repo.commit({"src/parens.rs": DEEP_PARENS}, "5,000 nested parentheses")
    marks["bom_crlf"] = repo.commit({"src/bom.rs": BOM_CRLF.encode()}, "BOM and CRLF")
    (repo.path / "src" / "link.rs").symlink_to("lib.rs")
    (repo.path / "src" / "dangling.rs").symlink_to("missing.rs")
    marks["symlinks"] = repo.commit({}, "a symlink and a dangling one")
    marks["odd_names"] = repo.commit(
        {name: f"pub fn named{n}() {{}}\n" for n, name in enumerate(ODD_NAMES)}, "odd names"
    )
    repo.commit({"src/old_name.rs": RENAMED}, "to be renamed")
    repo.git("mv", "src/old_name.rs", "src/new_name.rs")
    marks["rename"] = repo.commit(
        {"src/new_name.rs": RENAMED.replace("x + 3\n", "x * 3\n")}, "rename and edit"
    )
    marks["deleted"] = repo.commit({"src/restored.rs": None}, "delete a file")
    marks["restored"] = repo.commit({"src/restored.rs": RESTORED}, "restore it as it was")
    marks["many_added"] = repo.commit(
        {f"src/many/m{n:03}.rs": f"pub fn many{n}() -> u32 {{\n    {n}\n}}\n" for n in range(300)},
        f"{MANY_FILES} files",
    )
    marks["many_edited"] = repo.commit(
        {
            f"src/many/m{n:03}.rs": f"pub fn many{n}() -> u32 {{\n    {n} + 1\n}}\n"
            for n in range(300)
        },
        f"edit {MANY_FILES} files",
    )
    # A conflict, resolved by hand: the merge's only change is the resolution.
    repo.commit({"src/conflict.rs": CONFLICT_BASE}, "conflict base")
    repo.git("checkout", "-q", "-b", "theirs")
    repo.commit({"src/conflict.rs": "pub fn theirs() {}\n"}, "theirs")
    repo.git("checkout", "-q", "main")
    repo.commit({"src/conflict.rs": "pub fn ours() {}\n"}, "ours")
    merge(repo, "theirs", check=False)
    marks["conflict_merge"] = repo.commit({"src/conflict.rs": CONFLICT_RESOLVED}, "resolve")
    # An octopus merge of three branches.
    for n in range(3):
        repo.git("checkout", "-q", "-b", f"octo{n}", "main")
        repo.commit({f"src/octo{n}.rs": f"pub fn octo{n}() {{}}\n"}, f"octopus arm {n}")
    repo.git("checkout", "-q", "main")
    merge(repo, "octo0", "octo1", "octo2")
    marks["octopus"] = repo.head()
    dep = make_repo(repo.path.parent, "dep")
    dep.commit({"src/lib.rs": "pub fn from_dep() {}\n"})
    # A relative URL: .gitmodules (and so every oid) does not depend on the tmp dir.
    repo.git(*FILE_PROTOCOL, "submodule", "add", "-q", "../dep", "vendor/dep")
    marks["submodule"] = repo.commit({}, "a submodule")
    repo.git("tag", "tag-of-a-blob", repo.git("rev-parse", "HEAD:src/lib.rs"))
    repo.git("tag", "-a", "-m", "a tree", "tag-of-a-tree", repo.git("rev-parse", "HEAD^{tree}"))
    repo.git("tag", "-a", "-m", "a release", "v1")
    marks["latin1_message"] = latin1_message(repo)
    marks["bogus_encoding"] = bogus_encoding(repo)
    repo.git("checkout", "-q", "--detach", "main")
    marks["detached"] = repo.commit(
        {"src/lib.rs": "pub fn normal() -> u8 {\n    1\n}\n"}, "detached"
    )
    return marks
