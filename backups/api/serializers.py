"""What the API reads and writes. Input is checked in two steps: the JSON types here (so the
schema documents them), then `validation.backup_problems`, the layer the define form, the CLI,
schedules and imports use, whose (field, message) problems come back under `fields`. Unknown
fields are refused rather than ignored: a misspelt option must not silently back up everything."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from backups import queries
from backups.api.errors import invalid
from backups.engine.cron_schedule import ScheduleError, parse_schedule
from backups.models import ApiToken, Backup, BackupDefinition, BlockRun, Cluster, Restore, StorageLocation
from backups.validation import (
    BACKUP_NAME_MAX,
    DEFINITION_NAME_MAX,
    LIST_FIELDS,
    Problem,
    backup_problems,
    name_problem,
    restore_problems,
)

OPTION_FIELDS = (
    *LIST_FIELDS,
    "include_cluster_resources",
    "label_selector",
    "resource_policy",
    "ordered_resources",
    "hooks",
    "snapshot_volumes",
    "ttl",
    "csi_snapshot_timeout",
    "volume_group_label_key",
    "workers",
    "hooks_concurrency",
)


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, naming them."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["unknown field"] for name in unknown})
        return super().to_internal_value(data)


def _names(**kwargs):
    return serializers.ListField(child=serializers.CharField(allow_blank=False), required=False, **kwargs)


class OptionsSerializer(StrictSerializer):
    """Velero's backup spec fields, as the `VeleroSpec` model names them."""

    included_namespaces = _names(help_text="Namespaces (globs allowed); empty or absent: all.")
    excluded_namespaces = _names(help_text="Namespaces left out (globs allowed).")
    included_resources = _names(help_text="Resources (pods, deployments.apps); empty or absent: all.")
    excluded_resources = _names(help_text="Resources left out.")
    included_cluster_scoped_resources = _names(
        help_text="Velero 1.11+ filter ('*' for all); not with the old ones."
    )
    excluded_cluster_scoped_resources = _names(help_text="Velero 1.11+ filter.")
    included_namespace_scoped_resources = _names(help_text="Velero 1.11+ filter ('*' for all).")
    excluded_namespace_scoped_resources = _names(help_text="Velero 1.11+ filter.")
    or_label_selectors = _names(help_text="Velero's orLabelSelectors, each in kubectl's form (app=web).")
    include_cluster_resources = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="null: only when all namespaces are included.",
    )
    label_selector = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="As kubectl -l: app=web,tier!=cache."
    )
    resource_policy = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Velero's resource policy document (YAML)."
    )
    ordered_resources = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text='Velero\'s orderedResources: {"pods": ["ns/a", "ns/b"]}.',
    )
    hooks = serializers.JSONField(required=False, help_text='Velero\'s spec.hooks: {"resources": [...]}.')
    snapshot_volumes = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="CSI snapshots of volumes; null: yes."
    )
    ttl = serializers.CharField(
        required=False, default="720h0m0s", help_text="A Go duration, at most 87600h."
    )
    csi_snapshot_timeout = serializers.CharField(
        required=False, default="10m0s", help_text="How long to wait for each VolumeSnapshot; at most 24h."
    )
    volume_group_label_key = serializers.CharField(
        required=False,
        default="velero.io/volume-group",
        help_text="Claims sharing a value of this label are backed up in one block.",
    )
    workers = serializers.IntegerField(
        required=False, default=4, help_text="Lanes running its blocks (1 to 64)."
    )
    hooks_concurrency = serializers.ChoiceField(
        choices=["concurrent", "sequential"],
        required=False,
        default="concurrent",
        help_text="The hooks of a block's pods at once, each pod's in order, or pod after pod (Velero's "
        "order). Veloweb's own: not in velero-backup.json.",
    )
    storage_location = serializers.SlugRelatedField(
        slug_field="name",
        queryset=StorageLocation.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text="A storage location's name; absent: the default location.",
    )

    def options(self, data: dict) -> dict:
        """The model fields of the validated input (lists, maps and defaults filled in)."""
        fields = {name: data[name] for name in OPTION_FIELDS if name in data}
        for name in LIST_FIELDS:
            fields.setdefault(name, [])
        fields.setdefault("ordered_resources", {})
        fields.setdefault("hooks", {})
        if isinstance(fields["hooks"], list):
            fields["hooks"] = {"resources": fields["hooks"]}
        fields["storage_location"] = data.get("storage_location")
        return fields

    def validate(self, data):
        problems = backup_problems(self.options(data))
        problems += self.more_problems(data)
        if problems:
            raise invalid(problems)
        return data

    def more_problems(self, data) -> list[Problem]:
        return []


class ClusterNamed(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="name", queryset=Cluster.objects.all(), **kwargs)


class BackupCreateSerializer(OptionsSerializer):
    """A backup named `name`, or "back up now" named `name_prefix`-YYYYmmddHHMMSS."""

    cluster = ClusterNamed(help_text="A registered cluster's name.")
    name = serializers.CharField(
        required=False, max_length=200, help_text=f"At most {BACKUP_NAME_MAX} characters."
    )
    name_prefix = serializers.CharField(
        required=False, max_length=200, help_text="Instead of name: the backup is PREFIX-YYYYmmddHHMMSS."
    )

    def more_problems(self, data) -> list[Problem]:
        if "name" in data and "name_prefix" in data:
            return [Problem("name", "give a name or a name prefix, not both")]
        if "name" in data:
            problem = name_problem(data["name"])
        else:
            problem = name_problem(data.get("name_prefix", "backup"), "name prefix", DEFINITION_NAME_MAX)
        return [Problem("name" if "name" in data else "name_prefix", problem)] if problem else []


class PreviewCreateSerializer(OptionsSerializer):
    cluster = ClusterNamed(help_text="A registered cluster's name.")
    name_prefix = serializers.CharField(required=False, default="backup", max_length=200)

    def more_problems(self, data) -> list[Problem]:
        problem = name_problem(data["name_prefix"], "name prefix", DEFINITION_NAME_MAX)
        return [Problem("name_prefix", problem)] if problem else []


class DefinitionWriteSerializer(OptionsSerializer):
    """A definition: options saved under a name, with an optional schedule (Velero's cron)."""

    name = serializers.CharField(max_length=200, help_text=f"At most {DEFINITION_NAME_MAX} characters.")
    cluster = ClusterNamed(help_text="A registered cluster's name.")
    schedule = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    paused = serializers.BooleanField(required=False, default=False)
    skip_immediately = serializers.BooleanField(required=False, default=False)

    def more_problems(self, data) -> list[Problem]:
        problems = []
        if problem := name_problem(data.get("name"), "name", DEFINITION_NAME_MAX):
            problems.append(Problem("name", problem))
        if expression := data.get("schedule", "").strip():
            try:
                parse_schedule(expression)
            except ScheduleError as error:
                problems.append(Problem("schedule", str(error)))
        return problems


# --- output ---------------------------------------------------------------------------------------


class ProgressSerializer(serializers.Serializer):
    items_done = serializers.IntegerField()
    items_total = serializers.IntegerField()
    blocks_done = serializers.IntegerField()
    blocks_total = serializers.IntegerField()
    percent = serializers.IntegerField()
    eta_seconds = serializers.IntegerField(allow_null=True)
    elapsed_seconds = serializers.IntegerField(allow_null=True)


class OptionsOut(serializers.Serializer):
    """The spec fields of a backup or definition, as stored."""

    included_namespaces = serializers.ListField(child=serializers.CharField())
    excluded_namespaces = serializers.ListField(child=serializers.CharField())
    included_resources = serializers.ListField(child=serializers.CharField())
    excluded_resources = serializers.ListField(child=serializers.CharField())
    included_cluster_scoped_resources = serializers.ListField(child=serializers.CharField())
    excluded_cluster_scoped_resources = serializers.ListField(child=serializers.CharField())
    included_namespace_scoped_resources = serializers.ListField(child=serializers.CharField())
    excluded_namespace_scoped_resources = serializers.ListField(child=serializers.CharField())
    or_label_selectors = serializers.ListField(child=serializers.CharField())
    include_cluster_resources = serializers.BooleanField(allow_null=True)
    label_selector = serializers.CharField()
    resource_policy = serializers.CharField()
    ordered_resources = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    hooks = serializers.JSONField()
    snapshot_volumes = serializers.BooleanField(allow_null=True)
    ttl = serializers.CharField()
    csi_snapshot_timeout = serializers.CharField()
    volume_group_label_key = serializers.CharField()
    workers = serializers.IntegerField()
    hooks_concurrency = serializers.CharField()
    storage_location = serializers.CharField(source="storage_location.name", allow_null=True, default=None)


class BackupSerializer(serializers.ModelSerializer):
    cluster = serializers.CharField(source="cluster.name", allow_null=True, default=None)
    storage_location = serializers.CharField(source="storage_location.name", allow_null=True, default=None)
    schedule = serializers.CharField(source="schedule_name", help_text="The schedule that ran it, or empty.")
    progress = serializers.SerializerMethodField()

    class Meta:
        model = Backup
        fields = [
            "id", "name", "phase", "cluster", "storage_location", "definition", "schedule",
            "created", "started", "completed", "expiration", "progress", "errors", "warnings",
            "validation_errors", "failure_reason", "imported", "cancelled_by", "delete_requested",
        ]  # fmt: skip

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, backup) -> dict:
        return ProgressSerializer(queries.progress_of(backup)).data


class BackupDetailSerializer(BackupSerializer):
    options = serializers.SerializerMethodField()

    class Meta(BackupSerializer.Meta):
        fields = [
            *BackupSerializer.Meta.fields,
            "queue_position", "hooks_attempted", "hooks_failed", "snapshots_attempted",
            "snapshots_completed", "size_bytes", "gc_failure", "gc_failure_detail", "options",
        ]  # fmt: skip

    @extend_schema_field(OptionsOut)
    def get_options(self, backup) -> dict:
        return OptionsOut(backup).data


class BlockSerializer(serializers.ModelSerializer):
    class Meta:
        model = BlockRun
        fields = [
            "index", "batch", "state", "item_count", "first_item", "pods", "attempts",
            "items_written", "snapshot_objects", "items_skipped", "errors", "warnings", "started", "finished",
        ]  # fmt: skip


class ScheduleStateSerializer(serializers.Serializer):
    expression = serializers.CharField()
    paused = serializers.BooleanField()
    error = serializers.CharField()
    next_run = serializers.DateTimeField(allow_null=True)
    due = serializers.BooleanField()
    waiting_for = serializers.CharField(source="waiting_for.name", allow_null=True, default=None)


class DefinitionSerializer(serializers.ModelSerializer):
    cluster = serializers.CharField(source="cluster.name")
    options = serializers.SerializerMethodField()
    schedule_state = serializers.SerializerMethodField()
    last_backup = serializers.SerializerMethodField()

    class Meta:
        model = BackupDefinition
        fields = [
            "id", "name", "cluster", "schedule", "paused", "skip_immediately", "last_backup_at",
            "last_skipped_at", "created", "updated", "options", "schedule_state", "last_backup",
        ]  # fmt: skip

    @extend_schema_field(OptionsOut)
    def get_options(self, definition) -> dict:
        return OptionsOut(definition).data

    @extend_schema_field(ScheduleStateSerializer(allow_null=True))
    def get_schedule_state(self, definition):
        state = getattr(definition, "schedule_state", None)
        return ScheduleStateSerializer(state).data if state else None

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_last_backup(self, definition):
        if getattr(definition, "last_backup_id", None) is None:
            return None
        return {
            "id": definition.last_backup_id,
            "name": definition.last_backup_name,
            "phase": definition.last_backup_phase,
        }


class LocationSerializer(serializers.ModelSerializer):
    """A storage location without its credentials (never sent, not even masked)."""

    class Meta:
        model = StorageLocation
        fields = [
            "id", "name", "provider", "path", "bucket", "prefix", "region", "endpoint_url", "default",
            "read_only", "available", "last_checked", "last_check_error",
        ]  # fmt: skip


class ClusterSerializer(serializers.ModelSerializer):
    class Meta:
        model = Cluster
        fields = ["id", "name", "context", "in_cluster", "available", "last_checked", "last_check_error"]


class CancelResultSerializer(serializers.Serializer):
    changed = serializers.BooleanField()
    message = serializers.CharField()
    backup = BackupSerializer()


class MessageSerializer(serializers.Serializer):
    message = serializers.CharField()


class PreviewSerializer(serializers.Serializer):
    token = serializers.CharField()
    state = serializers.ChoiceField(choices=["queued", "running", "done", "failed"])
    error = serializers.CharField(required=False)
    summary = serializers.DictField(
        required=False, help_text="Counts, largest blocks and warnings, once done."
    )


class PreviewBlockSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    size = serializers.IntegerField()
    first = serializers.CharField()
    items = serializers.ListField(child=serializers.ListField(), help_text="[key, reason, parent] per item.")
    hooks = serializers.ListField(child=serializers.DictField())
    adds = serializers.IntegerField(help_text="Snapshot objects the block adds at run time.")


class PreviewExcludedSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    key = serializers.CharField()
    reason = serializers.CharField(help_text="The rule that leaves the item out.")


class ErrorDetail(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetail()


class TokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created", "last_used", "revoked"]


# --- restores ---------------------------------------------------------------------------------------


class RestoreCreateSerializer(StrictSerializer):
    """Velero's restore options, as the `Restore` model names them; checked by
    `validation.restore_problems`, the layer the restore form uses."""

    backup = serializers.SlugRelatedField(
        slug_field="name", queryset=Backup.objects.all(), help_text="The backup's name."
    )
    cluster = ClusterNamed(help_text="The registered cluster to restore into.")
    name = serializers.CharField(required=False, max_length=200, help_text="Absent: BACKUP-YYYYmmddHHMMSS.")
    included_namespaces = _names(help_text="Namespaces of the backup to restore; absent: all.")
    excluded_namespaces = _names()
    included_resources = _names()
    excluded_resources = _names()
    or_label_selectors = _names()
    status_included_resources = _names(help_text="Resources whose status is restored too.")
    status_excluded_resources = _names()
    priorities = _names(help_text="Restore order; absent: Velero's.")
    include_cluster_resources = serializers.BooleanField(required=False, allow_null=True, default=None)
    label_selector = serializers.CharField(required=False, allow_blank=True, default="")
    namespace_mapping = serializers.DictField(
        child=serializers.CharField(), required=False, help_text="Velero's namespaceMapping: {old: new}."
    )
    restore_pvs = serializers.BooleanField(required=False, allow_null=True, default=None)
    preserve_node_ports = serializers.BooleanField(required=False, allow_null=True, default=None)
    existing_resource_policy = serializers.ChoiceField(
        choices=["", "none", "update"], required=False, default=""
    )
    resource_modifiers = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Velero's resource modifier rules (YAML)."
    )
    hooks = serializers.JSONField(
        required=False, help_text='Velero\'s restore spec.hooks: {"resources": [...]}.'
    )
    workers = serializers.IntegerField(required=False, default=4)

    def options(self, data: dict) -> dict:
        options = {name: data[name] for name in Restore.OPTION_FIELDS if name in data}
        for name in (
            "included_namespaces",
            "excluded_namespaces",
            "included_resources",
            "excluded_resources",
            "or_label_selectors",
            "status_included_resources",
            "status_excluded_resources",
            "priorities",
        ):
            options.setdefault(name, [])
        options.setdefault("namespace_mapping", {})
        options.setdefault("hooks", {})
        return options  # fmt: skip

    def validate(self, data):
        problems = restore_problems(self.options(data), data["backup"].name)
        if "name" in data and (problem := name_problem(data["name"], "restore name")):
            problems.append(Problem("name", problem))
        if problems:
            raise invalid(problems)
        return data


class RestoreSerializer(serializers.ModelSerializer):
    cluster = serializers.CharField(source="cluster.name")
    backup = serializers.CharField(source="backup_name", help_text="The restored backup's name.")
    storage_location = serializers.CharField(source="storage_location.name", allow_null=True, default=None)

    class Meta:
        model = Restore
        fields = [
            "id", "name", "backup", "cluster", "storage_location", "phase", "created", "started",
            "completed", "total_items", "items_restored", "items_skipped", "items_failed",
            "items_excluded", "total_tiers", "errors", "warnings", "hooks_attempted", "hooks_failed",
            "validation_errors", "failure_reason", "cancelled_by", "created_by_name",
            "included_namespaces", "excluded_namespaces", "included_resources", "excluded_resources",
            "include_cluster_resources", "label_selector", "or_label_selectors", "namespace_mapping",
            "restore_pvs", "preserve_node_ports", "existing_resource_policy", "status_included_resources",
            "status_excluded_resources", "resource_modifiers", "priorities", "hooks", "workers",
        ]  # fmt: skip


class RestoreCancelSerializer(serializers.Serializer):
    changed = serializers.BooleanField()
    message = serializers.CharField()
    restore = RestoreSerializer()
