"""Dashboard forms. Backup options are checked by the same code as the CLI and the jobs
(`services.validation_errors`, the engine's parsers); each message lands on the field it names."""

from __future__ import annotations

import json
import re

from django import forms
from django.utils import timezone

from backups import services
from backups.engine.hooks import parse_resource_hooks
from backups.engine.spec import SpecError, parse_ordered_resources
from backups.models import Backup, BackupDefinition, Cluster, StorageLocation
from backups.permissions import ROLES

TRI_STATE = [("", "auto"), ("true", "yes"), ("false", "no")]
PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Where a validation message goes, by the words it starts with or contains (first match wins).
ERROR_FIELDS = [
    ("invalid name", "name_prefix"),
    ("hook", "hooks"),
    ("excluded resources", "excluded_resources"),
    ("ordered resources", "ordered_resources"),
    ("namespace", "included_namespaces"),
    ("selector", "label_selector"),
    ("invalid ttl", "ttl"),
    ("csi snapshot timeout", None),
    ("invalid workers", "workers"),
    ("storage location", "storage_location"),
]


def csv(text: str) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def tri_state(value: str) -> bool | None:
    return {"true": True, "false": False}.get(value)


def tri_state_text(value: bool | None) -> str:
    return "" if value is None else ("true" if value else "false")


def backup_name_for(prefix: str) -> str:
    """`PREFIX-YYYYMMDDhhmmss`, with `-2`, `-3`... when that second's name is taken."""
    name = base = f"{prefix}-{timezone.now():%Y%m%d%H%M%S}"
    number = 1
    while Backup.objects.filter(name=name).exists():
        number += 1
        name = f"{base}-{number}"
    return name


class HistoryFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search", widget=forms.TextInput(attrs={"placeholder": "name"}))
    phase = forms.ChoiceField(required=False, choices=[("", "any phase"), *Backup.Phase.choices])
    cluster = forms.ModelChoiceField(Cluster.objects.all(), required=False, empty_label="any cluster")
    namespace = forms.CharField(required=False, widget=forms.TextInput(attrs={"placeholder": "namespace"}))
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))


class BackupForm(forms.Form):
    """Velero's backup options; `create()` is "Back up now", `request_data()` feeds the preview."""

    cluster = forms.ModelChoiceField(Cluster.objects.all())
    name_prefix = forms.CharField(
        initial="backup",
        max_length=48,
        help_text="The backup is named PREFIX-YYYYMMDDhhmmss; a saved definition is named PREFIX.",
    )
    included_namespaces = forms.CharField(
        required=False, help_text="Comma-separated, globs allowed (shop-*); empty for all."
    )
    excluded_namespaces = forms.CharField(required=False)
    included_resources = forms.CharField(
        required=False, help_text="Comma-separated (pods, deployments.apps); empty for all."
    )
    excluded_resources = forms.CharField(required=False)
    include_cluster_resources = forms.ChoiceField(
        choices=TRI_STATE, required=False, help_text="Auto: only when all namespaces are included."
    )
    label_selector = forms.CharField(required=False, help_text="As kubectl -l: app=web,tier!=cache")
    ordered_resources = forms.CharField(
        required=False, help_text="Velero's syntax: pods=ns/a,ns/b;persistentvolumes=pv1"
    )
    hooks = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text='Velero\'s spec.hooks as JSON: {"resources": [{"name": ..., "pre": [{"exec": ...}]}]}',
    )
    snapshot_volumes = forms.ChoiceField(choices=TRI_STATE, required=False)
    ttl = forms.CharField(initial="720h0m0s", max_length=30, label="TTL")
    workers = forms.IntegerField(initial=4, min_value=1, max_value=64)
    storage_location = forms.ModelChoiceField(
        StorageLocation.objects.all(), required=False, empty_label="default"
    )

    @classmethod
    def initial_from(cls, backup: Backup) -> dict:
        """The form filled in like an earlier backup ("back up again" with changes)."""
        prefix = re.sub(r"-\d{14}$", "", backup.name)[:48]
        return {
            "cluster": backup.cluster_id,
            "name_prefix": prefix,
            "included_namespaces": ", ".join(backup.included_namespaces),
            "excluded_namespaces": ", ".join(backup.excluded_namespaces),
            "included_resources": ", ".join(backup.included_resources),
            "excluded_resources": ", ".join(backup.excluded_resources),
            "include_cluster_resources": tri_state_text(backup.include_cluster_resources),
            "label_selector": backup.label_selector,
            "ordered_resources": ";".join(f"{k}={','.join(v)}" for k, v in backup.ordered_resources.items()),
            "hooks": json.dumps(backup.hooks, indent=2) if backup.hooks else "",
            "snapshot_volumes": tri_state_text(backup.snapshot_volumes),
            "ttl": backup.ttl,
            "workers": backup.workers,
            "storage_location": backup.storage_location_id,
        }

    def clean_name_prefix(self):
        prefix = self.cleaned_data["name_prefix"].strip()
        if not PREFIX.match(prefix):
            raise forms.ValidationError("Lower-case letters, digits and '-', starting and ending with one.")
        return prefix

    def clean_ordered_resources(self):
        try:
            return parse_ordered_resources(self.cleaned_data["ordered_resources"])
        except SpecError as error:
            raise forms.ValidationError(str(error)) from error

    def clean_hooks(self):
        text = self.cleaned_data["hooks"].strip()
        if not text:
            return {}
        try:
            hooks = json.loads(text)
        except json.JSONDecodeError as error:
            raise forms.ValidationError(f"invalid JSON: {error}") from error
        if isinstance(hooks, list):
            hooks = {"resources": hooks}
        if not isinstance(hooks, dict) or set(hooks) - {"resources"}:
            raise forms.ValidationError('expected {"resources": [...]}')
        try:
            parse_resource_hooks(hooks.get("resources"))
        except ValueError as error:
            raise forms.ValidationError(str(error)) from error
        return hooks

    def backup_fields(self) -> dict:
        """The Backup model fields of the cleaned form (JSON-serializable: ids, not objects)."""
        data = self.cleaned_data
        location = data.get("storage_location")
        return {
            "included_namespaces": csv(data.get("included_namespaces", "")),
            "excluded_namespaces": csv(data.get("excluded_namespaces", "")),
            "included_resources": csv(data.get("included_resources", "")),
            "excluded_resources": csv(data.get("excluded_resources", "")),
            "include_cluster_resources": tri_state(data.get("include_cluster_resources", "")),
            "label_selector": data.get("label_selector", "").strip(),
            "ordered_resources": data.get("ordered_resources") or {},
            "hooks": data.get("hooks") or {},
            "snapshot_volumes": tri_state(data.get("snapshot_volumes", "")),
            "ttl": data.get("ttl", "").strip(),
            "workers": data.get("workers") or 4,
            "storage_location_id": location.pk if location else None,
        }

    def backup_name(self) -> str:
        return backup_name_for(self.cleaned_data["name_prefix"])

    def clean(self):
        cleaned = super().clean()
        if self.errors or not cleaned.get("cluster"):
            return cleaned
        backup = Backup(name=self.backup_name(), cluster=cleaned["cluster"], **self.backup_fields())
        for message in services.validation_errors(backup):
            field = next((f for words, f in ERROR_FIELDS if words in message.lower()), None)
            self.add_error(field, message)
        return cleaned

    def save_definition(self, user, definition: BackupDefinition | None = None) -> BackupDefinition | None:
        """Save definition: create one (or update `definition`) named after the prefix; None, with
        the error on the name field, when another definition has that name."""
        name = self.cleaned_data["name_prefix"]
        others = (
            BackupDefinition.objects.exclude(pk=definition.pk) if definition else BackupDefinition.objects
        )
        if others.filter(name=name).exists():
            self.add_error("name_prefix", f"A definition named {name} already exists.")
            return None
        definition = definition or BackupDefinition(created_by=user if user.is_authenticated else None)
        definition.name = name
        definition.cluster = self.cleaned_data["cluster"]
        for field, value in self.backup_fields().items():
            setattr(definition, field, value)
        definition.save()
        return definition

    def create(self) -> Backup:
        """Back up now: queued, or FailedValidation with the reasons (checked again by the service)."""
        return services.create_backup(
            self.backup_name(), self.cleaned_data["cluster"], **self.backup_fields()
        )


class ClusterForm(forms.ModelForm):
    class Meta:
        model = Cluster
        fields = ["name", "kubeconfig_path", "context", "in_cluster"]


class StorageLocationForm(forms.ModelForm):
    """The secret key is write-only: never rendered back; left empty, the stored one is kept."""

    secret_access_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only; leave empty to keep the stored key.",
    )

    class Meta:
        model = StorageLocation
        fields = [
            "name",
            "provider",
            "path",
            "bucket",
            "prefix",
            "region",
            "endpoint_url",
            "access_key_id",
            "secret_access_key",
            "default",
            "read_only",
        ]

    def clean_secret_access_key(self):
        return self.cleaned_data["secret_access_key"] or self.instance.secret_access_key


class UserRoleForm(forms.Form):
    role = forms.ChoiceField(choices=[("", "no access"), *((r, r) for r in ROLES)], required=False)
