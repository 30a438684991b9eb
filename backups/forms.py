"""Dashboard forms. Backup options are checked by the same layer as the CLI, schedules and imports
(`backups.validation`); each problem names its field, and the message lands under that input."""

from __future__ import annotations

import json
import re
import uuid

from django import forms
from django.utils import timezone

from backups import notices
from backups.engine.planning.spec import DEFAULT_VOLUME_GROUP_LABEL_KEY as DEFAULT_GROUP_KEY
from backups.engine.planning.spec import SpecError, parse_or_selectors, parse_ordered_resources
from backups.engine.running.hooks_text import HooksTextError, line_of, parse_hooks_text
from backups.models import Backup, Cluster, Credentials, NotificationTarget, Restore, StorageLocation
from backups.permissions import ROLES
from backups.validation import DEFINITION_NAME_MAX, backup_problems, name_problem, restore_problems
from veloweb.crypto import Unreadable

TRI_STATE = [("", "auto"), ("true", "yes"), ("false", "no")]
SCOPED_FIELDS = (
    "included_cluster_scoped_resources",
    "excluded_cluster_scoped_resources",
    "included_namespace_scoped_resources",
    "excluded_namespace_scoped_resources",
)
READ_ONLY_DEFAULT = (
    "A read-only location cannot be the default: every backup, scheduled ones too, would fail validation."
)


def csv(text: str) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def tri_state(value: str) -> bool | None:
    return {"true": True, "false": False}.get(value)


def tri_state_text(value: bool | None) -> str:
    return "" if value is None else ("true" if value else "false")


def new_request_token() -> str:
    """A one-time token rendered into a form that creates a backup: posting it twice (a double
    click, a reload) finds the backup the first post created."""
    return uuid.uuid4().hex


class HistoryFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search", widget=forms.TextInput(attrs={"placeholder": "name"}))
    phase = forms.ChoiceField(required=False, choices=[("", "any phase"), *Backup.Phase.choices])
    cluster = forms.ModelChoiceField(Cluster.objects.all(), required=False, empty_label="any cluster")
    namespace = forms.CharField(required=False, widget=forms.TextInput(attrs={"placeholder": "namespace"}))
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.CharField(required=False, widget=forms.HiddenInput)  # queries.HISTORY_SORTS

    def clean_sort(self):
        from backups.queries import history_sort

        return history_sort(self.cleaned_data["sort"])


class AuditFilterForm(forms.Form):
    """The audit trail's filters (Settings > Audit trail); the export takes the same."""

    user = forms.CharField(
        required=False, max_length=150, widget=forms.TextInput(attrs={"placeholder": "user"})
    )
    action = forms.ChoiceField(required=False, choices=[("", "any action")])
    object_type = forms.ChoiceField(required=False, label="Object type", choices=[("", "any object type")])
    object = forms.CharField(
        required=False, max_length=253, widget=forms.TextInput(attrs={"placeholder": "object name or id"})
    )
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        from backups.services.audit import ACTIONS, OBJECT_TYPES

        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", "any action"), *((a, a) for a in ACTIONS)]
        self.fields["object_type"].choices = [("", "any object type"), *((t, t) for t in OBJECT_TYPES)]

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return cleaned


class BackupForm(forms.Form):
    """Velero's backup options; `create()` is "Back up now", `request_data()` feeds the preview."""

    cluster = forms.ModelChoiceField(Cluster.objects.all())
    request_token = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
    name_prefix = forms.CharField(
        initial="backup",
        max_length=DEFINITION_NAME_MAX,
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
    included_cluster_scoped_resources = forms.CharField(
        required=False,
        label="Included cluster-scoped resources",
        help_text="New-style filters (not with the resource lists above): comma-separated, '*' for all.",
    )
    excluded_cluster_scoped_resources = forms.CharField(
        required=False, label="Excluded cluster-scoped resources"
    )
    included_namespace_scoped_resources = forms.CharField(
        required=False, label="Included namespace-scoped resources"
    )
    excluded_namespace_scoped_resources = forms.CharField(
        required=False, label="Excluded namespace-scoped resources"
    )
    label_selector = forms.CharField(required=False, help_text="As kubectl -l: app=web,tier!=cache")
    or_label_selectors = forms.CharField(
        required=False,
        label="Or label selectors",
        help_text="Items matching any of them: app=web or tier=db (not with a label selector).",
    )
    resource_policy = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        help_text="Velero's resource policy (YAML, version: v1): volumePolicies, includeExcludePolicy.",
    )
    ordered_resources = forms.CharField(
        required=False, help_text="Velero's syntax: pods=ns/a,ns/b;persistentvolumes=pv1"
    )
    hooks = forms.CharField(
        required=False,
        strip=False,  # error lines count from the first line the operator sees
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text="Velero's spec.hooks in YAML or JSON: resources: [{name: ..., pre: [{exec: ...}]}]",
    )
    snapshot_volumes = forms.ChoiceField(choices=TRI_STATE, required=False)
    ttl = forms.CharField(
        initial="720h0m0s", max_length=30, label="TTL", help_text="A Go duration, at most 87600h (10 years)."
    )
    csi_snapshot_timeout = forms.CharField(
        initial="10m0s",
        required=False,
        max_length=30,
        label="CSI snapshot timeout",
        help_text="How long to wait for each VolumeSnapshot to be ready; at most 24h.",
    )
    volume_group_label_key = forms.CharField(
        initial=DEFAULT_GROUP_KEY,
        max_length=253,
        required=False,
        help_text="Claims sharing a value of this label are backed up in one block.",
    )
    workers = forms.IntegerField(initial=4, min_value=1, max_value=64)
    hooks_concurrency = forms.ChoiceField(
        choices=[
            ("concurrent", "Concurrent: the pods of a block at once, each pod's hooks in order"),
            ("sequential", "Sequential: pod after pod (Velero's order)"),
        ],
        initial="concurrent",
        required=False,
        label="Hooks of a block's pods",
        help_text="Concurrent keeps each pod frozen only for its own hooks; all pre-hooks still end before "
        "any item is written, and post-hooks start after the block's items and snapshots.",
    )
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
            **{name: ", ".join(getattr(backup, name)) for name in SCOPED_FIELDS},
            "or_label_selectors": " or ".join(backup.or_label_selectors),
            "resource_policy": backup.resource_policy,
            "ordered_resources": ";".join(f"{k}={','.join(v)}" for k, v in backup.ordered_resources.items()),
            "hooks": json.dumps(backup.hooks, indent=2) if backup.hooks else "",
            "snapshot_volumes": tri_state_text(backup.snapshot_volumes),
            "ttl": backup.ttl,
            "csi_snapshot_timeout": backup.csi_snapshot_timeout,
            "volume_group_label_key": backup.volume_group_label_key,
            "workers": backup.workers,
            "hooks_concurrency": backup.hooks_concurrency,
            "storage_location": backup.storage_location_id,
            "schedule": getattr(backup, "schedule", ""),
            "paused": getattr(backup, "paused", False),
            "skip_immediately": getattr(backup, "skip_immediately", False),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("request_token", new_request_token())
        if "cluster" not in self.initial and not self.is_bound:
            only = list(Cluster.objects.values_list("pk", flat=True)[:2])
            if len(only) == 1:
                self.initial["cluster"] = only[0]  # the one cluster there is

    def clean_name_prefix(self):
        prefix = self.cleaned_data["name_prefix"].strip()
        problem = name_problem(prefix, "name prefix", DEFINITION_NAME_MAX)
        if problem:
            raise forms.ValidationError(problem)
        return prefix

    def clean_schedule(self):
        from backups.engine.cron_schedule import ScheduleError, parse_schedule

        expression = self.cleaned_data["schedule"].strip()
        if expression:
            try:
                parse_schedule(expression)
            except ScheduleError as error:
                raise forms.ValidationError(str(error)) from error
        return expression

    def clean_or_label_selectors(self):
        try:
            return parse_or_selectors(self.cleaned_data["or_label_selectors"])
        except ValueError as error:
            raise forms.ValidationError(str(error)) from error

    def clean_ordered_resources(self):
        try:
            return parse_ordered_resources(self.cleaned_data["ordered_resources"])
        except SpecError as error:
            raise forms.ValidationError(str(error)) from error

    def clean_hooks(self):
        try:
            hooks = parse_hooks_text(self.cleaned_data["hooks"])
        except HooksTextError as error:
            raise forms.ValidationError(str(error)) from None
        if hooks is None:
            return {}
        if isinstance(hooks, list):
            hooks = {"resources": hooks}
        return hooks  # checked with the other options in clean()

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
            **{name: csv(data.get(name, "")) for name in SCOPED_FIELDS},
            "or_label_selectors": data.get("or_label_selectors") or [],
            "resource_policy": data.get("resource_policy", "").strip(),
            "ordered_resources": data.get("ordered_resources") or {},
            "hooks": data.get("hooks") or {},
            "snapshot_volumes": tri_state(data.get("snapshot_volumes", "")),
            "ttl": data.get("ttl", "").strip(),
            "csi_snapshot_timeout": data.get("csi_snapshot_timeout", "").strip() or "10m0s",
            "volume_group_label_key": data.get("volume_group_label_key", "").strip() or DEFAULT_GROUP_KEY,
            "workers": data.get("workers") or 4,
            "hooks_concurrency": data.get("hooks_concurrency") or "concurrent",
            "storage_location_id": location.pk if location else None,
        }

    def clean(self):
        """Every option through the shared validation layer, each problem under its own input
        (those of fields that already failed their own cleaning are not repeated)."""
        cleaned = super().clean()
        fields = {
            name: value
            for name, value in self.backup_fields().items()
            if name not in self.errors and name != "storage_location_id"
        }
        fields["storage_location"] = cleaned.get("storage_location")
        for problem in backup_problems(fields):
            message = problem.message
            if problem.field == "hooks" and (line := line_of(self.data.get("hooks", ""), message)):
                message = f"line {line}: {message}"
            self.add_error(problem.field if problem.field in self.fields else None, message)
        return cleaned

    def find_warnings(self) -> dict[str, list[str]]:
        """What the chosen cluster says of the options (`clusters.option_warnings`): patterns that
        match no namespace, resources it does not serve. Kept in `self.warnings` for the template."""
        from backups.services.clusters import option_warnings

        self.warnings: dict[str, list[str]] = {}
        cleaned = getattr(self, "cleaned_data", {})
        if cleaned.get("cluster") is None:
            return self.warnings
        fields = {name: value for name, value in self.backup_fields().items() if name not in self.errors}
        for problem in option_warnings(cleaned["cluster"], fields):
            self.warnings.setdefault(problem.field, []).append(problem.message)
        return self.warnings


class CheckedOnSave(forms.ModelForm):
    """A form whose object is checked before it is saved (`problem_of`): one that cannot be used is
    refused, the reason at the field `_field_of` names, nothing saved. After the model's own checks
    (a unique name), on the unsaved instance: its status is stored only with it, so a refused edit
    leaves the stored status alone."""

    def problem_of(self, instance) -> str:
        raise NotImplementedError

    def _field_of(self, problem: str) -> str | None:
        return None

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        problem = self.problem_of(self.instance)
        if problem:
            self.add_error(self._field_of(problem), problem)
        else:
            self.instance.available, self.instance.last_check_error = True, ""
            self.instance.last_checked = timezone.now()


class ClusterForm(CheckedOnSave):
    """Saving checks the cluster (`clusters.cluster_problem`): a kubeconfig that cannot be read, an
    unknown context or an API server that does not answer is refused with the reason, nothing saved."""

    class Meta:
        model = Cluster
        fields = ["name", "kubeconfig_path", "context", "in_cluster"]

    def problem_of(self, cluster: Cluster) -> str:
        from backups.services.clusters import cluster_problem

        return cluster_problem(cluster)

    def _field_of(self, problem: str) -> str | None:
        if self.instance.in_cluster:
            return "in_cluster"
        if "context" in problem:
            return "context"
        if "kubeconfig" in problem:
            return "kubeconfig_path"
        return None


class StorageLocationForm(CheckedOnSave):
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
        from backups.services.locations import masked

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
        if cleaned.get("default") and cleaned.get("read_only"):
            self.add_error("read_only", READ_ONLY_DEFAULT)
        return cleaned

    def problem_of(self, location: StorageLocation) -> str:
        return location.access_problem(create=True)  # saving the form makes a missing folder

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


class UserCreateForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=[("", "no access yet"), *((r, r) for r in ROLES)], required=False)
    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Leave empty for a one-time password, shown once, to be changed at the first sign-in.",
    )


class PasswordResetForm(forms.Form):
    password = forms.CharField(
        required=False,
        strip=False,
        label="New password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Leave empty for a one-time password, shown once, to be changed at the next sign-in.",
    )


class UserRoleForm(forms.Form):
    role = forms.ChoiceField(choices=[("", "no access"), *((r, r) for r in ROLES)], required=False)
    # A viewer allowed to download tarballs and read hook output (operators and admins are).
    downloader = forms.BooleanField(required=False)
    confirm = forms.BooleanField(required=False)  # a role change is confirmed on a page of its own


class NotificationTargetForm(forms.ModelForm):
    """A notification target. The URL and the secret are write-only, as storage credentials are:
    never rendered back, left empty to keep the stored ones. A webhook needs an http(s) URL and a
    secret to sign with; an Apprise URL must be one Apprise accepts."""

    url = forms.CharField(
        required=False,
        max_length=2000,
        label="URL",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text="Webhook: https://… that receives the JSON. Apprise: e.g. slack://…, msteams://…, "
        "matrixs://…, mailtos://…, json://…. Write-only; leave empty to keep the stored one.",
    )
    secret = forms.CharField(
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Webhooks only: the HMAC-SHA256 key of the X-Veloweb-Signature header (16 characters "
        "or more). Write-only; leave empty to keep the stored one.",
    )
    events = forms.MultipleChoiceField(
        choices=list(notices.EVENTS.items()),
        widget=forms.CheckboxSelectMultiple,
        initial=notices.DEFAULT_EVENTS,
    )

    class Meta:
        model = NotificationTarget
        fields = ["name", "kind", "url", "secret", "events", "definition", "enabled"]
        labels = {"definition": "Only for the definition"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["definition"].empty_label = "every definition (global)"
        self.initial["url"] = self.initial["secret"] = ""  # never rendered back
        try:
            self.stored_url, self.stored_secret = self.instance.plain_url(), self.instance.plain_secret()
            self.stored_problem = ""
        except Unreadable as error:
            self.stored_url, self.stored_secret, self.stored_problem = "", "", str(error)
        if self.stored_url:
            from backups.services.notifications import shown_url

            self.fields["url"].widget.attrs["placeholder"] = shown_url(self.instance)
        if self.stored_secret:
            self.fields["secret"].widget.attrs["placeholder"] = "•••• (stored)"

    def clean(self):
        from urllib.parse import urlsplit

        cleaned = super().clean()
        url = (cleaned.get("url") or "").strip() or self.stored_url
        secret = cleaned.get("secret") or self.stored_secret
        kind = cleaned.get("kind")
        if not url:
            missing = f"The stored {self.stored_problem}" if self.stored_problem else "Give the URL."
            self.add_error("url", missing)
        elif kind == NotificationTarget.Kind.WEBHOOK:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                self.add_error("url", "A webhook needs an http:// or https:// URL with a host.")
            if len(secret) < 16:
                self.add_error("secret", "A webhook needs a secret of 16 characters or more to sign with.")
        elif kind == NotificationTarget.Kind.APPRISE:
            import apprise

            if not apprise.Apprise().add(url):
                self.add_error("url", "Apprise does not accept this URL: check its schema and parts.")
        cleaned["url"], cleaned["secret"] = url, secret if kind == NotificationTarget.Kind.WEBHOOK else ""
        return cleaned

    def save(self, commit=True):
        target = super().save(commit=False)
        target.url, target.secret = self.cleaned_data["url"], self.cleaned_data["secret"]
        if commit:
            target.save()
        return target


class RestoreHistoryFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search", widget=forms.TextInput(attrs={"placeholder": "name"}))
    phase = forms.ChoiceField(required=False, choices=[("", "any phase"), *Restore.Phase.choices])
    backup = forms.CharField(required=False, widget=forms.TextInput(attrs={"placeholder": "backup name"}))


EXISTING_POLICY = [("", "none (skip what exists)"), ("update", "update (patch to the backed-up state)")]


class RestoreForm(forms.Form):
    """Velero's restore options for one backup (`create()` is "Restore", the dry run previews it);
    checked by `validation.restore_problems`, as the CLI is."""

    cluster = forms.ModelChoiceField(Cluster.objects.all(), help_text="The cluster restored into.")
    request_token = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
    name = forms.CharField(max_length=63, help_text="Velero's default: the backup's name and a timestamp.")
    included_namespaces = forms.CharField(
        required=False, help_text="Comma-separated, globs allowed; empty for all."
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
    or_label_selectors = forms.CharField(
        required=False, label="Or label selectors", help_text="Items matching any: app=web or tier=db."
    )
    namespace_mapping = forms.CharField(
        required=False, label="Namespace mappings", help_text="Velero's old:new pairs, comma-separated."
    )
    restore_pvs = forms.ChoiceField(
        choices=TRI_STATE, required=False, label="Restore PVs", help_text="Volumes from their snapshots."
    )
    existing_resource_policy = forms.ChoiceField(
        choices=EXISTING_POLICY, required=False, help_text="What happens to an object that already exists."
    )
    preserve_node_ports = forms.ChoiceField(choices=TRI_STATE, required=False, label="Preserve node ports")
    status_included_resources = forms.CharField(
        required=False, label="Restore the status of", help_text="Resources whose status is restored too."
    )
    status_excluded_resources = forms.CharField(required=False, label="Never restore the status of")
    resource_modifiers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        help_text="Velero's resource modifier rules (YAML, version: v1): JSON patches, merge patches.",
    )
    priorities = forms.CharField(
        required=False,
        help_text="Restore order, comma-separated, '-' before the low priorities; empty: Velero's default.",
    )
    hooks = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        help_text='Velero\'s restore spec.hooks as JSON: {"resources": [{"name": ..., "postHooks": [...]}]}',
    )
    workers = forms.IntegerField(initial=4, min_value=1, max_value=64, help_text="Items of a tier at once.")

    def __init__(self, *args, backup: Backup, **kwargs):
        super().__init__(*args, **kwargs)
        self.backup = backup
        if not self.is_bound:
            self.initial.setdefault("request_token", new_request_token())
            from backups.services.restores import default_name

            self.initial.setdefault("name", default_name(backup))
            if backup.cluster_id:
                self.initial.setdefault("cluster", backup.cluster_id)
            else:
                only = list(Cluster.objects.values_list("pk", flat=True)[:2])
                if len(only) == 1:
                    self.initial["cluster"] = only[0]

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        problem = name_problem(name, "restore name")
        if problem:
            raise forms.ValidationError(problem)
        return name

    def clean_or_label_selectors(self):
        try:
            return parse_or_selectors(self.cleaned_data["or_label_selectors"])
        except ValueError as error:
            raise forms.ValidationError(str(error)) from error

    def clean_namespace_mapping(self):
        mapping: dict[str, str] = {}
        for pair in csv(self.cleaned_data["namespace_mapping"]):
            source, sep, target = pair.partition(":")
            if not sep or not source.strip() or not target.strip():
                raise forms.ValidationError(f"invalid mapping {pair!r}: expected old:new")
            mapping[source.strip()] = target.strip()
        return mapping

    def clean_hooks(self):
        text = self.cleaned_data["hooks"].strip()
        if not text:
            return {}
        try:
            hooks = json.loads(text)
        except json.JSONDecodeError as error:
            raise forms.ValidationError(f"invalid JSON: {error}") from error
        except RecursionError:
            raise forms.ValidationError("invalid JSON: nested too deeply") from None
        return {"resources": hooks} if isinstance(hooks, list) else hooks

    def options(self) -> dict:
        """The Restore option fields of the cleaned form (`Restore.OPTION_FIELDS`)."""
        data = self.cleaned_data
        return {
            "included_namespaces": csv(data.get("included_namespaces", "")),
            "excluded_namespaces": csv(data.get("excluded_namespaces", "")),
            "included_resources": csv(data.get("included_resources", "")),
            "excluded_resources": csv(data.get("excluded_resources", "")),
            "include_cluster_resources": tri_state(data.get("include_cluster_resources", "")),
            "label_selector": data.get("label_selector", "").strip(),
            "or_label_selectors": data.get("or_label_selectors") or [],
            "namespace_mapping": data.get("namespace_mapping") or {},
            "restore_pvs": tri_state(data.get("restore_pvs", "")),
            "preserve_node_ports": tri_state(data.get("preserve_node_ports", "")),
            "existing_resource_policy": data.get("existing_resource_policy", ""),
            "status_included_resources": csv(data.get("status_included_resources", "")),
            "status_excluded_resources": csv(data.get("status_excluded_resources", "")),
            "resource_modifiers": data.get("resource_modifiers", "").strip(),
            "priorities": csv(data.get("priorities", "")),
            "hooks": data.get("hooks") or {},
            "workers": data.get("workers") or 4,
        }

    def clean(self):
        cleaned = super().clean()
        options = {name: value for name, value in self.options().items() if name not in self.errors}
        for problem in restore_problems(options, self.backup.name):
            self.add_error(problem.field if problem.field in self.fields else None, problem.message)
        return cleaned
