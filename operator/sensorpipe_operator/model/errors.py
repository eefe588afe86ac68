"""The one error of spec parsing, raised by every part of the model."""

from __future__ import annotations


class SpecError(ValueError):
    """An invalid spec; ``path`` is the offending field, as the API server would name it."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message
