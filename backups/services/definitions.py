"""Backup definitions (named options with an optional schedule) as operators save them."""

from __future__ import annotations

from backups.models import BackupDefinition, Cluster
from backups.services import schedules


class DefinitionExists(ValueError):
    """Another definition has that name; nothing was saved."""


def definition_save(
    *,
    name: str,
    cluster: Cluster,
    fields: dict,
    schedule: str = "",
    paused: bool = False,
    skip_immediately: bool = False,
    user=None,
    definition: BackupDefinition | None = None,
) -> BackupDefinition:
    """Create a definition (or update `definition`) named `name` with the backup options `fields`
    (already validated) and its schedule settings."""
    others = BackupDefinition.objects.exclude(pk=definition.pk) if definition else BackupDefinition.objects
    if others.filter(name=name).exists():
        raise DefinitionExists(f"A definition named {name} already exists.")
    definition = definition or BackupDefinition(created_by=user if user and user.is_authenticated else None)
    definition.name = name
    definition.cluster = cluster
    for field, value in fields.items():
        setattr(definition, field, value)
    schedules.apply_settings(definition, schedule, paused, skip_immediately)
    definition.save()
    return definition
