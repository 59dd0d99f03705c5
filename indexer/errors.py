"""The one exception family; the CLI turns it into `error:` and `hint:` lines."""


class IndexerError(Exception):
    """An error meant for people: `message` says what happened, `hint` what to do."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class NotARepository(IndexerError):
    pass


class UnknownRevision(IndexerError):
    pass


class StoreError(IndexerError):
    pass


class StoreLocked(StoreError):
    pass
