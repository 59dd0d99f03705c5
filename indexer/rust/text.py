"""An item's code as text: whole lines from the start of its first line, its header
line (`pub struct Opts { .. }`), and a definition as context with shorter variants
(without doc comments and attributes, then the bare header line) for a tight budget."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from indexer.rust.resolve import Definition


def _drop_docs_and_attributes(text: str) -> str:
    """Whole lines only: doc comments and single-line attributes go."""
    kept = [
        line
        for line in text.split("\n")
        if not line.lstrip().startswith(("///", "//!", "#[", "#!["))
        or (line.lstrip().startswith(("#[", "#![")) and not line.rstrip().endswith("]"))
    ]
    return "\n".join(kept)


def line_start(code: bytes, offset: int) -> int:
    """`offset`, moved back over the indentation before it on its line: item text is
    taken from the start of its first line, so every line keeps its indentation."""
    start = code.rfind(b"\n", 0, offset) + 1
    return start if not code[start:offset].strip() else offset


def item_text(code: bytes, d: Definition) -> str:
    """The item's code with its doc comments and attributes, whole lines."""
    return code[line_start(code, d.start_byte) : d.end_byte].decode()


def header(code: bytes, d: Definition) -> str:
    """The item down to its header line: `pub struct Opts { .. }`."""
    if d.body_byte is None:
        return code[d.item_byte : d.end_byte].decode()
    head = code[d.item_byte : d.body_byte].decode().rstrip()
    opener = code[d.body_byte : d.body_byte + 1]
    if opener == b"{":
        return f"{head} {{ .. }}"
    if opener == b"(":
        return f"{head}(..);"
    return f"{head} ..;"  # a const or static value


def definition_text(
    code: bytes, d: Definition, children: list[Definition]
) -> tuple[str, tuple[str, ...]]:
    """A definition as context, and its shorter variants (longest first): whole for
    data types, signatures for traits and fns."""
    if d.kind == "fn":
        full = (header(code, d).removesuffix(" { .. }") + ";") if d.body_byte else None
        text = code[line_start(code, d.start_byte) : d.item_byte].decode() + (
            full or header(code, d)
        )
    elif d.kind == "trait":
        text = _trait_signatures(code, d, children)
    else:
        text = item_text(code, d)
    variants = []
    for shorter in (_drop_docs_and_attributes(text), header(code, d)):
        if len(shorter) < len(variants[-1] if variants else text):
            variants.append(shorter)
    return text, tuple(variants)


def _trait_signatures(code: bytes, d: Definition, children: list[Definition]) -> str:
    """The trait with each default method's body replaced by `;`."""
    out, cursor = [], d.start_byte
    for child in sorted(children, key=lambda c: c.start_byte):
        if child.kind == "method" and child.body_byte is not None:
            out.append(code[cursor : child.body_byte].decode().rstrip() + ";")
            cursor = child.end_byte
    out.append(code[cursor : d.end_byte].decode())
    return "".join(out)
