"""What to back up: Velero's backup spec fields that decide which items are collected and grouped."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_VOLUME_GROUP_LABEL_KEY = "velero.io/volume-group"
EXCLUDE_LABEL = "velero.io/exclude-from-backup"


class SpecError(ValueError):
    """An invalid backup spec value; the message names the field and the value."""


@dataclass
class BackupSpec:
    included_namespaces: list[str] = field(default_factory=lambda: ["*"])
    excluded_namespaces: list[str] = field(default_factory=list)
    included_resources: list[str] = field(default_factory=lambda: ["*"])
    excluded_resources: list[str] = field(default_factory=list)
    include_cluster_resources: bool | None = None
    label_selector: str | None = None
    # resource name (as given, resolved by discovery) -> ["ns/name" or "name", ...] in order
    ordered_resources: dict[str, list[str]] = field(default_factory=dict)
    volume_group_label_key: str = DEFAULT_VOLUME_GROUP_LABEL_KEY


def parse_ordered_resources(text: str | None) -> dict[str, list[str]]:
    """Parse Velero's `--ordered-resources` syntax: `pods=ns/a,ns/b;persistentvolumes=pv1`."""
    result: dict[str, list[str]] = {}
    if not text or not text.strip():
        return result
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        resource, sep, names = part.partition("=")
        resource, names = resource.strip(), names.strip()
        if not sep or not resource or not names:
            raise SpecError(f"invalid ordered resources {part!r}: expected RESOURCE=NAME[,NAME...]")
        items = [n.strip() for n in names.split(",")]
        for item in items:
            if not item or item.count("/") > 1 or item.startswith("/") or item.endswith("/"):
                raise SpecError(f"invalid ordered resources {part!r}: {item!r} is not NAME or NAMESPACE/NAME")
        if resource in result:
            raise SpecError(f"invalid ordered resources: {resource!r} is listed twice")
        result[resource] = items
    return result


def parse_bool(text: str | bool | None, field_name: str) -> bool | None:
    """Tri-state flags such as include-cluster-resources: true, false or unset."""
    if text is None or isinstance(text, bool):
        return text
    value = text.strip().lower()
    if value in ("", "auto", "none"):
        return None
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise SpecError(f"invalid {field_name} {text!r}: expected true or false")
