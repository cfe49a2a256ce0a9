"""Errors the user can act on: each says what is wrong and, where it can, what to do about it."""

from __future__ import annotations


class FlairError(Exception):
    """An error shown to the user as it is: a message and, optionally, a hint on how to fix it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


class BundleError(FlairError):
    """A model bundle that is missing, unreadable, or whose metadata is incomplete or contradictory."""

    def __init__(self, message: str, field: str | None = None, hint: str | None = None) -> None:
        if field:
            message = f"{message} (field '{field}')"
        super().__init__(message, hint)
        self.field = field


class InputError(FlairError):
    """Input data the run cannot use: wrong band count, CRS mismatch, no overlap, corrupt file..."""


class OutputError(FlairError):
    """An output that cannot be written: existing file, unwritable folder, full disk."""


class SetupError(FlairError):
    """Software around the engine that cannot make a right map (two GDAL libraries in one process)."""


class Cancelled(FlairError):
    """The user cancelled the run; nothing was left at the output path."""

    def __init__(self, message: str = "The run was cancelled; no output was written.") -> None:
        super().__init__(message)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (ONNX Runtime's and torch's run to pages), or its type's
    name when it has no message: what a user is shown of a third party's error."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
