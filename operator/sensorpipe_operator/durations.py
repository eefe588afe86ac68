"""Go-style duration strings ("500ms", "15m", "1h30m", "7d") to seconds.

One parser for every duration in the spec, so the CRD's regex, the model and the runtime
config agree on what "10s" means. The regex below is the same one the CRD uses, which is why
it is exported: a unit test checks the two stay identical.
"""

from __future__ import annotations

import re

# One or more <number><unit> groups; "0" alone is also a valid (zero) duration, as in Go.
DURATION_PATTERN = r"^(0|([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h|d))+)$"

_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|ms|s|m|h|d)")
_WHOLE = re.compile(DURATION_PATTERN)


class DurationError(ValueError):
    """A string that is not a duration; the message quotes it so the caller can name the field."""


def parse_duration(text: str) -> float:
    """Seconds in ``text``; raises DurationError for anything the CRD pattern would refuse."""
    if not isinstance(text, str) or not _WHOLE.match(text):
        raise DurationError(f"{text!r} is not a duration such as 500ms, 10s, 15m, 1h30m or 7d")
    if text == "0":
        return 0.0
    return sum(float(num) * _UNIT_SECONDS[unit] for num, unit in _PART.findall(text))


def format_duration(seconds: float) -> str:
    """The shortest whole-unit Go-style spelling of ``seconds`` (used for Kafka retention and
    for round-trips in tests); fractions of a second are written in milliseconds."""
    if seconds == 0:
        return "0s"
    millis = round(seconds * 1000)
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if millis % size == 0:
            return f"{millis // size}{unit}"
    return f"{millis}ms"
