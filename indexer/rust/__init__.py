"""Everything that knows Rust: parsing a blob into items, `use` and `mod` declarations
(`syntax`), resolving the names an item refers to across files (`resolve`), and an
item's code as text (`text`). A second language would be a sibling package.

The face below is what the indexer's other wings use; the modules are imported by
name where only one part is wanted.
"""

from indexer.rust.syntax import (
    DEFAULT_MAX_BLOB_BYTES,
    MAX_NESTING,
    PARSER_VERSION,
    SUFFIX,
    Item,
    ModDecl,
    ParsedBlob,
    Use,
    changed_since,
    check_blob,
    module_path,
    parse_blob,
    parse_source,
    resolve_use,
)

__all__ = [
    "DEFAULT_MAX_BLOB_BYTES",
    "MAX_NESTING",
    "PARSER_VERSION",
    "Item",
    "ModDecl",
    "ParsedBlob",
    "SUFFIX",
    "Use",
    "changed_since",
    "check_blob",
    "module_path",
    "parse_blob",
    "parse_source",
    "resolve_use",
]
