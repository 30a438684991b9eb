"""Velero's restore resource modifiers (internal/resourcemodifiers): rules that patch items before
they are created. Implemented in the next commit; the interface is final."""

from __future__ import annotations

from dataclasses import dataclass


class ModifierError(ValueError):
    """A resource modifiers document Velero refuses; the message names the rule and the problem."""


@dataclass(frozen=True)
class ModifierRules:
    version: str
    rules: tuple[dict, ...]

    def apply(self, obj: dict, group_resource: str, log: list[str]) -> dict:
        """The object with every matching rule's patches applied (in rule order)."""
        raise NotImplementedError


def parse_resource_modifiers(text: str) -> ModifierRules:
    """Parse and validate a document; raises ModifierError."""
    raise NotImplementedError
