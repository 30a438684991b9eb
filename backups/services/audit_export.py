"""The audit trail as CSV or JSON, streamed: entries are read in chunks (`iterator`) and written
line by line, so an export of any size holds one chunk in memory."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator

import orjson
from django.db.models import QuerySet

COLUMNS = ("id", "time", "username", "via", "address", "action", "object_type", "object_id", "object_name")
CHUNK = 2000


def _rows(entries: QuerySet) -> Iterator[dict]:
    """Oldest first, as the trail grew."""
    for row in entries.order_by("time", "id").values(*COLUMNS, "details").iterator(chunk_size=CHUNK):
        row["time"] = row["time"].isoformat()
        yield row


class _Line:
    """What csv.writer writes to: hands the line back instead of buffering it."""

    def write(self, text: str) -> str:
        return text


def as_csv(entries: QuerySet) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow([*COLUMNS, "details"])
    for row in _rows(entries):
        details = orjson.dumps(row.pop("details"), option=orjson.OPT_SORT_KEYS, default=str).decode()
        yield writer.writerow([_cell(row[c]) for c in COLUMNS] + [_cell(details)])


def _cell(value) -> str:
    """A cell a spreadsheet shows as text: a leading =, +, - or @ would make it a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def as_json(entries: QuerySet) -> Iterator[str]:
    """A JSON array, one entry a line."""
    yield "[\n"
    first = True
    for row in _rows(entries):
        yield ("" if first else ",\n") + orjson.dumps(row, option=orjson.OPT_SORT_KEYS, default=str).decode()
        first = False
    yield "\n]\n"


FORMATS: dict[str, Callable[[QuerySet], tuple[str, Iterator[str]]]] = {
    "csv": lambda entries: ("text/csv; charset=utf-8", as_csv(entries)),
    "json": lambda entries: ("application/json", as_json(entries)),
}
