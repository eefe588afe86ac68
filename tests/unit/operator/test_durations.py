import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensorpipe_operator.durations import (
    DURATION_PATTERN,
    DurationError,
    format_duration,
    parse_duration,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("0s", 0.0),
        ("500ms", 0.5),
        ("10s", 10.0),
        ("15m", 900.0),
        ("1h30m", 5400.0),
        ("7d", 604800.0),
        ("1.5h", 5400.0),
        ("250us", 0.00025),
        ("100ns", 1e-7),
        ("1d12h", 129600.0),
    ],
)
def test_parses_go_durations_and_days(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text", ["", "10", "s", "10 s", "-5s", "1w", "1h-30m", "5sec", "1.s", "PT5M"]
)
def test_refuses_what_the_crd_refuses(text):
    with pytest.raises(DurationError, match="is not a duration"):
        parse_duration(text)
    assert not re.match(DURATION_PATTERN, text)


@given(st.integers(min_value=0, max_value=10**9))
def test_format_then_parse_round_trips_whole_milliseconds(millis):
    seconds = millis / 1000
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)


def test_the_crd_uses_the_same_pattern(crd_schema):
    window = crd_schema["properties"]["spec"]["properties"]["processing"]["properties"]["window"]
    assert window["pattern"] == DURATION_PATTERN
