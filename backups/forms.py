"""Dashboard forms. Backup options are checked by the same code as the CLI and the jobs
(`services.validation_errors`, the engine's parsers); each message lands on the field it names."""

from __future__ import annotations

import json
import re

from django import forms
from django.utils import timezone

from backups import schedules, services
from backups.engine.hooks import parse_resource_hooks
from backups.engine.spec import SpecError, parse_ordered_resources
from backups.models import Backup, BackupDefinition, Cluster, Credentials, StorageLocation
from backups.permissions import ROLES
from veloweb.crypto import Unreadable

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
    schedule = forms.CharField(
        required=False,
        max_length=100,
        help_text="Cron, as Velero's schedules: '0 3 * * *', '@daily', '@every 6h', "
        "'CRON_TZ=Europe/Paris 0 3 * * *' (UTC otherwise). Empty: run by hand only.",
    )
    paused = forms.BooleanField(required=False, help_text="A paused schedule never fires.")
    skip_immediately = forms.BooleanField(
        required=False, label="Skip immediately", help_text="On resume, skip a run that is already due."
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
            "schedule": getattr(backup, "schedule", ""),
            "paused": getattr(backup, "paused", False),
            "skip_immediately": getattr(backup, "skip_immediately", False),
        }

    def clean_name_prefix(self):
        prefix = self.cleaned_data["name_prefix"].strip()
        if not PREFIX.match(prefix):
            raise forms.ValidationError("Lower-case letters, digits and '-', starting and ending with one.")
        return prefix

    def clean_schedule(self):
        from backups.engine.cron import ScheduleError, parse_schedule

        expression = self.cleaned_data["schedule"].strip()
        if expression:
            try:
                parse_schedule(expression)
            except ScheduleError as error:
                raise forms.ValidationError(str(error)) from error
        return expression

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
        schedules.apply_settings(
            definition,
            self.cleaned_data.get("schedule", ""),
            self.cleaned_data.get("paused", False),
            self.cleaned_data.get("skip_immediately", False),
        )
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
    """Credentials are write-only: the secret is never rendered, the access key id only masked; left
    empty, the stored ones are kept. Saving checks access (`store.check()`): a location that cannot be
    reached, listed or (unless read-only) written is refused with the reason, and nothing is saved."""

    access_key_id = forms.CharField(
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text="Write-only; leave empty to keep the stored one.",
    )
    secret_access_key = forms.CharField(
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only; leave empty to keep the stored key.",
    )
    forget_credentials = forms.BooleanField(
        required=False, label="Remove the stored credentials", help_text="Use the environment's instead."
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
            "forget_credentials",
            "default",
            "read_only",
        ]

    def __init__(self, *args, **kwargs):
        from backups.locations import masked

        super().__init__(*args, **kwargs)
        self.initial["access_key_id"] = self.initial["secret_access_key"] = ""  # never rendered back
        try:
            self.stored = self.instance.credentials()
            self.stored_problem = ""
        except Unreadable as error:  # sealed under another SECRET_KEY: they must be entered again
            self.stored, self.stored_problem = Credentials("", ""), str(error)
            for name in ("access_key_id", "secret_access_key"):
                self.fields[name].help_text = f"Stored {error}"
        if self.stored.access_key_id:
            shown = masked(self.stored.access_key_id)
            self.fields["access_key_id"].widget.attrs["placeholder"] = shown
            self.fields["access_key_id"].help_text = f"Stored: {shown}. Leave empty to keep it."
        if self.stored.secret_access_key:
            self.fields["secret_access_key"].widget.attrs["placeholder"] = "•••• (stored)"
        if not self.instance.pk:
            del self.fields["forget_credentials"]

    def clean(self):
        from backups.engine.storage import check_key

        cleaned = super().clean()
        if cleaned.get("forget_credentials"):
            cleaned["access_key_id"] = cleaned["secret_access_key"] = ""
        else:
            if self.stored_problem and not (cleaned.get("access_key_id") or cleaned.get("secret_access_key")):
                self.add_error("access_key_id", f"The stored {self.stored_problem}")
            cleaned["access_key_id"] = cleaned.get("access_key_id") or self.stored.access_key_id
            cleaned["secret_access_key"] = cleaned.get("secret_access_key") or self.stored.secret_access_key
        provider = cleaned.get("provider")
        if provider == StorageLocation.Provider.LOCAL:
            path = (cleaned.get("path") or "").strip()
            if not path:
                self.add_error("path", "A local location needs the path of its folder.")
            elif not path.startswith("/"):
                self.add_error("path", f"Give an absolute path (starting with /), not {path!r}.")
        elif provider == StorageLocation.Provider.S3:
            if not cleaned.get("bucket"):
                self.add_error("bucket", "An S3 location needs a bucket.")
            prefix = (cleaned.get("prefix") or "").strip("/")
            if prefix:
                try:
                    check_key(prefix)
                except ValueError:
                    self.add_error("prefix", f"Invalid prefix {prefix!r}: no '..', '.' or empty segments.")
            if bool(cleaned["access_key_id"]) != bool(cleaned["secret_access_key"]):
                self.add_error(
                    "secret_access_key" if cleaned["access_key_id"] else "access_key_id",
                    "Give both the access key id and the secret access key, or neither.",
                )
        if cleaned.get("default") is False and self.instance.pk and self.instance.default:
            self.add_error("default", "This is the default location: set another one as default instead.")
        return cleaned

    def _post_clean(self):
        """After the model's own checks (unique name): the access check, on the unsaved instance; its
        result is stored only with the instance (a refused edit leaves the stored status alone)."""
        from backups.locations import access_problem

        super()._post_clean()
        if self.errors:
            return
        problem = access_problem(self.instance, create=True)
        if problem:
            self.add_error(self._field_of(problem), problem)
        else:
            self.instance.available, self.instance.last_check_error = True, ""
            self.instance.last_checked = timezone.now()

    def _field_of(self, problem: str) -> str | None:
        if self.instance.provider == StorageLocation.Provider.LOCAL:
            return "path"
        for words, field in (
            ("does not exist", "bucket"),
            ("cannot reach", "endpoint_url"),
            ("did not answer", "endpoint_url"),
            ("secret access key does not match", "secret_access_key"),
            ("access key id", "access_key_id"),
        ):
            if words in problem:
                return field
        return None

    def save(self, commit=True):
        from django.db import transaction

        from backups.locations import set_default

        with transaction.atomic():
            location = super().save(commit=commit)
            if commit and location.default:
                set_default(location)
        return location


class UserRoleForm(forms.Form):
    role = forms.ChoiceField(choices=[("", "no access"), *((r, r) for r in ROLES)], required=False)
    # A viewer allowed to download tarballs and read hook output (operators and admins are).
    downloader = forms.BooleanField(required=False)
