"""A reading's record value (docs/contracts.md §3) in the pieces both paths assemble it from.

The Python path (``readings.RecordBuilder.reading``) and the compiled step
(``_fastpath.Step``, fed by ``shortcut.Shortcut``) write the same bytes for a line because
both put these same pieces together, in this order: ``head`` up to the sequence number,
``EVENT_TIME`` and its value, ``middle`` (shared by a batch) up to the values, the
``member``s with their values, ``}``, then ``UPTIME`` and its value if the device sent
one, and the closing ``}``.
"""

from __future__ import annotations

import json

dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
EVENT_TIME = ',"event_time":'
UPTIME = ',"device_uptime_ms":'


def head(device_id: str, stream: str) -> str:
    """The record up to the value of ``seq``. Written as is: only device ids and stream
    names that the schema's patterns allow reach a record, and those need no escaping."""
    return f'{{"v":1,"device_id":"{device_id}","stream":"{stream}","seq":'


def middle(received_at: int, gateway_json: str) -> str:
    """From ``received_at`` up to the opening of ``values``: the same for a whole batch."""
    return f',"received_at":{received_at},"gateway":{gateway_json},"values":{{'


def member(field: str) -> str:
    """A field's member of ``values`` up to its value."""
    return f"{dumps(field)}:"
