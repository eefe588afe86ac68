"""Types of the C extension ``_fastpath.c``."""

_Field = tuple[bytes, bytes, bool, float, float]  # b"name=", b'"name":', boolean, min, max
_Stream = tuple[bytes, str, dict[bytes, bytes], tuple[_Field, ...]]  # name, topic, shapes, fields

class Step:
    def __init__(
        self,
        streams: tuple[_Stream, ...],
        event_time: bytes,
        uptime: bytes,
        max_line: int,
    ) -> None: ...
    def records(
        self, lines: list[bytes], now: bytes, middle: bytes
    ) -> tuple[list[tuple[str, bytes, bytes] | None], list[int]]: ...
