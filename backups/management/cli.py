"""Small helpers the management commands share."""

from __future__ import annotations


def who() -> str:
    """Who acts from a shell: the login name, for the run's record."""
    import getpass

    try:
        return f"{getpass.getuser()} (CLI)"
    except (KeyError, OSError):
        return "CLI"


def comma_list(text: str | None) -> list[str]:
    """A comma-separated option as Velero's CLI reads it: parts stripped, empty ones dropped."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]
