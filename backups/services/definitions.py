"""Backup definitions (named options with an optional schedule) as operators save them."""

from __future__ import annotations

from backups.models import BackupDefinition, Cluster
from backups.services import audit, schedules


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
    before = _audited(definition) if definition else None
    definition = definition or BackupDefinition(created_by=user if user and user.is_authenticated else None)
    definition.name = name
    definition.cluster = cluster
    for field, value in fields.items():
        setattr(definition, field, value)
    schedules.apply_settings(definition, schedule, paused, skip_immediately)
    definition.save()
    if before is None:
        audit.record(audit.DEFINITION_CREATED, definition, details=_audited(definition))
    elif changed := audit.changes(before, _audited(definition)):
        audit.record(audit.DEFINITION_UPDATED, definition, details={"changed": changed})
    return definition


def definition_delete(definition: BackupDefinition) -> None:
    """Delete a definition; its backups are kept (their link is cleared)."""
    pk = definition.pk
    definition.delete()
    audit.record(audit.DEFINITION_DELETED, definition, object_id=str(pk))


def _audited(definition: BackupDefinition) -> dict:
    """What the audit trail keeps of a definition: its options, cluster and schedule settings."""
    return {
        "cluster": definition.cluster.name if definition.cluster_id else "",
        "schedule": definition.schedule,
        "paused": definition.paused,
        "skip_immediately": definition.skip_immediately,
        **definition.spec_fields(),
    }
