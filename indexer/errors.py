"""The one exception family; the CLI turns it into `error:` and `hint:` lines."""


class IndexerError(Exception):
    """An error meant for people: `message` says what happened, `hint` what to do."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class NotFound(IndexerError):
    """Nothing matched what was asked for (a name, a commit's examples): exit 1, as grep
    does, where an error is 2."""

    exit_code = 1


class NotARepository(IndexerError):
    pass


class UnknownRevision(IndexerError):
    pass


class StoreError(IndexerError):
    pass


class StoreLocked(StoreError):
    pass
