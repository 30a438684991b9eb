"""The error of an invalid backup spec, shared by the spec and the filters it builds."""


class SpecError(ValueError):
    """An invalid backup spec value; the message names the field and the value."""
