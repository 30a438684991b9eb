"""URL converters shared by the pages (backups/urls.py) and the WebSocket routes (backups/routing.py)."""

from django.urls import register_converter

MAX_ID = 2**63 - 1  # BigAutoField


class IdConverter:
    """A database id or an index: digits that fit a 64-bit integer. Anything longer is no match (a
    404), where `<int:...>` handed it to the database, which cannot compare it (a 500)."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:
            raise ValueError(value)
        return number

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")
