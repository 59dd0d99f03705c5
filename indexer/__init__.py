"""commit-indexer: a Rust repository's git history as training data, kept current."""

__version__ = "0.1.0"
