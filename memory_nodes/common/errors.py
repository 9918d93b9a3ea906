"""The project's small exception hierarchy. Nodes catch these at the callback boundary."""


class MemoryStackError(Exception):
    """Base of every error the core raises on purpose."""


class ConfigError(MemoryStackError):
    """A configuration value is missing, of the wrong type, or out of range."""


class InputError(MemoryStackError):
    """An input (image, message, question) is malformed. ``cause`` names the kind, for log-once."""

    def __init__(self, cause: str, detail: str = ""):
        self.cause = cause
        self.detail = detail
        super().__init__(f"{cause}: {detail}" if detail else cause)


class TransformError(MemoryStackError):
    """A transform is unknown or cannot be interpolated at the requested time."""


class StoreError(MemoryStackError):
    """The persistent store is corrupt, foreign, locked, or of an unknown schema version."""


class NotFoundError(MemoryStackError):
    """A requested object, place, room or record does not exist."""
