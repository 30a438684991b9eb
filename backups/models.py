import logging
from typing import NamedTuple

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from veloweb.crypto import SealedField, Unreadable, reveal

log = logging.getLogger(__name__)
DNS_LABEL = RegexValidator(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "Lower-case letters, digits and '-', starting and ending with one."
)


class Checked(models.Model):
    """The last check of something Veloweb depends on (a cluster, a storage location): on save, by
    the Check button, by the periodic jobs. Velero's BSL `phase` is the same idea."""

    available = models.BooleanField(null=True, blank=True, help_text="None until first checked.")
    last_checked = models.DateTimeField(null=True, blank=True)
    last_check_error = models.TextField(blank=True)

    class Meta:
        abstract = True

    def record_check(self, problem: str, now=None) -> None:
        """Keep the outcome of a check ("" when fine) on this object, and in the database when saved."""
        from django.utils import timezone

        self.available, self.last_check_error = not problem, problem
        self.last_checked = now or timezone.now()
        if self.pk:
            changes = dict(available=self.available, last_checked=self.last_checked, last_check_error=problem)
            rows = type(self).objects.filter(pk=self.pk)
            # became unavailable (from available or never checked): one UPDATE decides, so two
            # checks at once raise the event once
            if problem and rows.exclude(available=False).update(**changes):
                self.became_unavailable(problem)
            else:
                rows.update(**changes)

    def became_unavailable(self, problem: str) -> None:
        """Hook for what depends on the transition (a storage location's notification)."""


class Cluster(Checked):
    """A Kubernetes cluster Veloweb can back up. Several clusters can be registered."""

    name = models.CharField(max_length=100, unique=True)
    kubeconfig_path = models.CharField(
        max_length=500,
        blank=True,
        help_text="Path to a kubeconfig file; empty for the default loading rules.",
    )
    context = models.CharField(
        max_length=200, blank=True, help_text="Empty for the kubeconfig's current context."
    )
    in_cluster = models.BooleanField(default=False, help_text="Use the pod's service account instead.")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def connect(self):
        """A client for this cluster, from `backups.kube`, the only module that talks to the API."""
        from backups.kube import connect

        return connect(
            kubeconfig=self.kubeconfig_path or None,
            context=self.context or None,
            in_cluster=self.in_cluster,
        )

    def server_url(self) -> str:
        """The API server URL from the kubeconfig, read without contacting the cluster; "" if unknown."""
        from backups.kube.connection import kubeconfig_server

        if self.in_cluster or not self.kubeconfig_path:
            return ""
        return kubeconfig_server(self.kubeconfig_path, self.context)


class Credentials(NamedTuple):
    access_key_id: str
    secret_access_key: str


class StorageLocation(Checked):
    """Where backups are stored: a local folder or an S3-compatible bucket (Velero's BSL)."""

    class Provider(models.TextChoices):
        LOCAL = "local", "Local folder"
        S3 = "s3", "S3-compatible bucket"

    name = models.CharField(max_length=63, unique=True)
    provider = models.CharField(max_length=10, choices=Provider.choices, default=Provider.LOCAL)
    path = models.CharField(max_length=500, blank=True, help_text="Local folder (provider local).")
    bucket = models.CharField(max_length=63, blank=True)
    prefix = models.CharField(max_length=200, blank=True)
    region = models.CharField(max_length=50, blank=True)
    endpoint_url = models.CharField(max_length=300, blank=True)
    # Sealed at rest (veloweb.crypto); read the plaintext only through credentials().
    access_key_id = SealedField(blank=True)
    secret_access_key = SealedField(blank=True)
    default = models.BooleanField(default=False)
    read_only = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def became_unavailable(self, problem: str) -> None:
        from backups import notices

        notices.location_unavailable(self, problem)

    def credentials(self) -> Credentials:
        """The plaintext credentials, for `store()` and the masked display only. Raises
        `veloweb.crypto.Unreadable` when they were sealed under another SECRET_KEY."""
        return Credentials(reveal(self.access_key_id), reveal(self.secret_access_key))

    def store(self):
        """The object store client (`backups.engine.storage`); credentials never leave this call.
        Credentials sealed under another SECRET_KEY raise StorageError saying so."""
        from backups.engine.storage import StorageError, store_from_config

        try:
            credentials = self.credentials()
        except Unreadable as error:
            raise StorageError(f"storage location {self.name}: {error}") from None
        return store_from_config(
            {
                "provider": self.provider,
                "path": self.path,
                "bucket": self.bucket,
                "prefix": self.prefix,
                "region": self.region or None,
                "endpoint_url": self.endpoint_url or None,
                "access_key_id": credentials.access_key_id or None,
                "secret_access_key": credentials.secret_access_key or None,
                "read_only": self.read_only,
            }
        )

    def access_problem(self, create: bool = False) -> str:
        """Why the location cannot be read (or, unless read-only, written); "" when it can. `create`
        makes a missing local folder (saving the form), never done by checks after that."""
        from backups.engine.storage import StorageError

        try:
            self.store().check(create=create)
        except (StorageError, ValueError) as error:
            return str(error)
        return ""

    def check_access(self, now=None) -> str:
        """Check the location now and record the result on it (available, last checked, last
        error): Velero's BSL availability, asked by the access check, the expiry job and a backup
        that starts."""
        problem = self.access_problem()
        self.record_check(problem, now)
        if problem:
            log.warning("storage location %s is unavailable: %s", self.name, problem)
        else:
            log.info("storage location %s is available", self.name)
        return problem


class VeleroSpec(models.Model):
    """Velero's backup spec fields, shared by a saved definition and each backup."""

    included_namespaces = models.JSONField(default=list, blank=True)
    excluded_namespaces = models.JSONField(default=list, blank=True)
    included_resources = models.JSONField(default=list, blank=True)
    excluded_resources = models.JSONField(default=list, blank=True)
    include_cluster_resources = models.BooleanField(null=True, blank=True)
    label_selector = models.CharField(max_length=500, blank=True)
    # Velero 1.11+ scoped resource filters (not with the three old-style fields above)
    included_cluster_scoped_resources = models.JSONField(default=list, blank=True)
    excluded_cluster_scoped_resources = models.JSONField(default=list, blank=True)
    included_namespace_scoped_resources = models.JSONField(default=list, blank=True)
    excluded_namespace_scoped_resources = models.JSONField(default=list, blank=True)
    or_label_selectors = models.JSONField(
        default=list, blank=True, help_text="Velero's spec.orLabelSelectors, each in kubectl's text form."
    )
    resource_policy = models.TextField(blank=True, help_text="Velero's resource policy document (YAML).")
    ordered_resources = models.JSONField(default=dict, blank=True)
    hooks = models.JSONField(default=dict, blank=True, help_text="Velero's spec.hooks: {resources: [...]}")
    ttl = models.CharField(max_length=30, default="720h0m0s")
    volume_group_label_key = models.CharField(max_length=253, default="velero.io/volume-group", blank=True)
    snapshot_volumes = models.BooleanField(null=True, blank=True)
    csi_snapshot_timeout = models.CharField(max_length=30, default="10m0s")
    workers = models.PositiveSmallIntegerField(default=4)
    # Veloweb's, not Velero's (not in velero-backup.json): the pre- and post-hooks of a block's
    # pods at once (each pod's own in order), or pod after pod as Velero runs them
    hooks_concurrency = models.CharField(
        max_length=12,
        choices=[("concurrent", "Concurrent"), ("sequential", "Sequential")],
        default="concurrent",
        help_text="A block's pods at once, each one's hooks in order; or pod after pod (Velero).",
    )

    class Meta:
        abstract = True


class BackupDefinition(VeleroSpec):
    """A reusable backup: Velero's spec fields saved under a name; each run is a Backup named
    NAME-YYYYMMDDhhmmss (so the name is at most 48 characters, leaving room for the timestamp)."""

    SPEC_FIELDS = (
        "included_namespaces",
        "excluded_namespaces",
        "included_resources",
        "excluded_resources",
        "include_cluster_resources",
        "label_selector",
        "included_cluster_scoped_resources",
        "excluded_cluster_scoped_resources",
        "included_namespace_scoped_resources",
        "excluded_namespace_scoped_resources",
        "or_label_selectors",
        "resource_policy",
        "ordered_resources",
        "hooks",
        "ttl",
        "volume_group_label_key",
        "snapshot_volumes",
        "csi_snapshot_timeout",
        "workers",
        "hooks_concurrency",
        "storage_location_id",
    )

    name = models.CharField(max_length=48, unique=True, validators=[DNS_LABEL])
    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="definitions")
    # Velero's Schedule: a cron expression over this template; runs are named NAME-YYYYMMDDhhmmss.
    schedule = models.CharField(max_length=100, blank=True, help_text="Cron expression; empty: manual only.")
    paused = models.BooleanField(default=False)
    skip_immediately = models.BooleanField(
        default=False, help_text="On resume, skip a run that is already due (Velero's skipImmediately)."
    )
    schedule_since = models.DateTimeField(
        null=True, blank=True, help_text="When the cron expression was set: the base before any run."
    )
    last_backup_at = models.DateTimeField(null=True, blank=True, help_text="Velero's status.lastBackup.")
    last_skipped_at = models.DateTimeField(null=True, blank=True, help_text="Velero's status.lastSkipped.")
    storage_location = models.ForeignKey(
        StorageLocation, on_delete=models.PROTECT, null=True, blank=True, related_name="definitions"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def spec_fields(self) -> dict:
        """The Backup fields of a run of this definition (ids, not objects: JSON-serializable)."""
        return {field: getattr(self, field) for field in self.SPEC_FIELDS}


class Backup(VeleroSpec):
    """A backup with Velero's spec fields and phases; counters are exact once blocks are planned."""

    class Phase(models.TextChoices):
        NEW = "New"
        QUEUED = "Queued"
        READY = "ReadyToStart"
        IN_PROGRESS = "InProgress"
        FINALIZING = "Finalizing"
        COMPLETED = "Completed"
        PARTIALLY_FAILED = "PartiallyFailed"
        FAILED = "Failed"
        FAILED_VALIDATION = "FailedValidation"
        CANCELLING = "Cancelling"  # running blocks finish their post-hooks; nothing new starts
        CANCELLED = "Cancelled"

    TERMINAL = (
        Phase.COMPLETED,
        Phase.PARTIALLY_FAILED,
        Phase.FAILED,
        Phase.FAILED_VALIDATION,
        Phase.CANCELLED,
    )
    RUNNING = (Phase.READY, Phase.IN_PROGRESS, Phase.FINALIZING, Phase.CANCELLING)

    name = models.CharField(max_length=63, unique=True)
    # None for a backup imported from a storage location: the cluster it came from is unknown.
    cluster = models.ForeignKey(
        Cluster, on_delete=models.PROTECT, null=True, blank=True, related_name="backups"
    )
    storage_location = models.ForeignKey(
        StorageLocation, on_delete=models.PROTECT, null=True, blank=True, related_name="backups"
    )
    definition = models.ForeignKey(
        BackupDefinition, on_delete=models.SET_NULL, null=True, blank=True, related_name="backups"
    )
    # status
    phase = models.CharField(max_length=20, choices=Phase.choices, default=Phase.NEW)
    queue_position = models.PositiveIntegerField(null=True, blank=True)
    validation_errors = models.JSONField(default=list, blank=True)
    failure_reason = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    completed = models.DateTimeField(null=True, blank=True)
    expiration = models.DateTimeField(null=True, blank=True)
    total_items = models.PositiveIntegerField(default=0)
    items_backed_up = models.PositiveIntegerField(default=0)
    total_blocks = models.PositiveIntegerField(default=0)
    blocks_done = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    warnings = models.PositiveIntegerField(default=0)
    hooks_attempted = models.PositiveIntegerField(default=0)
    hooks_failed = models.PositiveIntegerField(default=0)
    snapshots_attempted = models.PositiveIntegerField(default=0)
    snapshots_completed = models.PositiveIntegerField(default=0)
    size_bytes = models.BigIntegerField(default=0)
    stored_log_lines = models.IntegerField(
        null=True,
        blank=True,
        help_text="Lines of an imported backup's stored log read into the log (None: not read yet).",
    )
    timings = models.JSONField(
        default=dict,
        blank=True,
        help_text="Seconds per stage (planning, blocks, hooks, longest freeze, snapshots, upload) and "
        "the plan's hooked blocks: see runs.timings.",
    )
    attempt = models.PositiveIntegerField(default=0, help_text="Dispatch jobs enqueued (first and retries).")
    finalize_attempts = models.PositiveIntegerField(default=0, help_text="Finalize jobs enqueued.")
    upload_started = models.DateTimeField(
        null=True, blank=True, help_text="When finalize began uploading: too late to cancel from then on."
    )
    cancelled_by = models.CharField(max_length=150, blank=True, help_text="Who asked to cancel it.")
    delete_requested = models.BooleanField(
        default=False, help_text="Deleted once it ends: a delete asked while it was running cancels it first."
    )
    job_id = models.CharField(max_length=64, blank=True, help_text="The RQ job dispatching or finalizing it.")
    schedule_name = models.CharField(
        max_length=63,
        blank=True,
        help_text="Velero's velero.io/schedule-name label: the schedule that ran it.",
    )
    gc_failure = models.CharField(
        max_length=30,
        blank=True,
        help_text="Velero's velero.io/gc-failure label: why expiry could not delete it.",
    )
    gc_failure_detail = models.TextField(blank=True)
    imported = models.BooleanField(default=False, help_text="Found in a storage location, not run here.")
    metrics_folded = models.BooleanField(
        default=False,
        help_text="Its blocks', hooks' and batches' share of the metrics is in MetricTally "
        "(backups.metrics.tally).",
    )
    # The form's one-time token: a second post of the same form (a double click) finds this
    # backup instead of creating another.
    request_token = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["phase"])]

    def __str__(self):
        return self.name

    @property
    def is_terminal(self) -> bool:
        return self.phase in self.TERMINAL

    @property
    def cancellable(self) -> bool:
        """Not started, running, or finalizing before the upload began (see backups.runs.cancel)."""
        started = (self.Phase.NEW, self.Phase.QUEUED, self.Phase.READY, self.Phase.IN_PROGRESS)
        return self.phase in started or (self.phase == self.Phase.FINALIZING and not self.upload_started)


class RunRow(models.Model):
    """A row of the run machinery (batches, block runs, hook runs, owed post-hooks), keyed by its
    run: `run_kind` and `run_id` (`backups.runs.kinds`), so that every kind of run shares the
    machinery. A backup's rows also point at their Backup, which deletes them with it."""

    run_kind = models.CharField(max_length=16, default="backup")
    run_id = models.PositiveBigIntegerField()

    class Meta:
        abstract = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.run_id is None and getattr(self, "backup_id", None) is not None:
            self.run_id = self.backup_id  # a backup's row (saved or bulk-created): the run is the backup
        elif self.run_id is None and getattr(self, "restore_id", None) is not None:
            self.run_kind, self.run_id = "restore", self.restore_id


class BlockBatch(RunRow):
    """Consecutive blocks run by one RQ job, so tiny blocks don't cost one job each.

    The database, not Redis, is the truth: a batch whose worker died (lease expired) or whose
    job was lost with Redis is handed out again, and its members are rewritten, never doubled.
    """

    class State(models.TextChoices):
        PENDING = "pending"
        ENQUEUED = "enqueued"
        RUNNING = "running"
        DONE = "done"

    backup = models.ForeignKey(
        Backup, on_delete=models.CASCADE, related_name="batches", null=True, blank=True
    )
    restore = models.ForeignKey(
        "Restore", on_delete=models.CASCADE, related_name="batches", null=True, blank=True
    )
    number = models.PositiveIntegerField()
    first_block = models.PositiveIntegerField()
    block_count = models.PositiveIntegerField()
    item_count = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    job_id = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["run_kind", "run_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["run_kind", "run_id", "number"], name="unique_run_batch_number")
        ]
        indexes = [models.Index(fields=["run_kind", "run_id", "state"], name="backups_batch_run_state")]

    def __str__(self):
        return f"{self.run_kind} {self.run_id} batch {self.number}"


class BlockRun(RunRow):
    """One ItemBlock of a backup and how its run went."""

    class State(models.TextChoices):
        QUEUED = "queued"
        PRE_HOOKS = "pre-hooks"
        ITEMS = "items"
        SNAPSHOTS = "snapshots"
        POST_HOOKS = "post-hooks"
        DONE = "done"
        FAILED = "failed"
        CANCELLED = "cancelled"

    backup = models.ForeignKey(Backup, on_delete=models.CASCADE, related_name="blocks", null=True, blank=True)
    restore = models.ForeignKey(
        "Restore", on_delete=models.CASCADE, related_name="blocks", null=True, blank=True
    )
    index = models.PositiveIntegerField()
    batch = models.PositiveIntegerField()
    item_count = models.PositiveIntegerField()
    first_item = models.CharField(max_length=400)
    pods = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=12, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    items_written = models.PositiveIntegerField(default=0)  # the block's items and the objects it added
    snapshot_objects = models.PositiveIntegerField(default=0)  # of those, VolumeSnapshots and contents
    items_skipped = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    warnings = models.PositiveIntegerField(default=0)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    step_detail = models.JSONField(
        null=True,
        blank=True,
        help_text="The hook running now, while the block is in its hooks: pod, container, command, "
        "since (epoch seconds), timeout (runs.lanes.LiveBlock).",
    )

    class Meta:
        ordering = ["run_kind", "run_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["run_kind", "run_id", "index"], name="unique_run_block_index")
        ]

    def __str__(self):
        return f"{self.run_kind} {self.run_id} block {self.index}"

    @property
    def block_items_written(self) -> int:
        """The block's own items written, without the snapshot objects it added (which the
        plan's item count does not hold)."""
        return max(0, self.items_written - self.snapshot_objects)


class HookRun(RunRow):
    """One hook execution (or skip) in a block, as Velero's hook tracker counts it."""

    backup = models.ForeignKey(
        Backup, on_delete=models.CASCADE, related_name="hook_runs", null=True, blank=True
    )
    restore = models.ForeignKey(
        "Restore", on_delete=models.CASCADE, related_name="hook_runs", null=True, blank=True
    )
    block_index = models.PositiveIntegerField()
    phase = models.CharField(max_length=4)
    namespace = models.CharField(max_length=253)
    pod = models.CharField(max_length=253)
    container = models.CharField(max_length=253, blank=True)
    source = models.CharField(max_length=253, blank=True)
    command = models.JSONField(default=list)
    on_error = models.CharField(max_length=10, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    stdout = models.TextField(blank=True)
    stderr = models.TextField(blank=True)
    error = models.TextField(blank=True)
    timed_out = models.BooleanField(default=False)
    skipped_reason = models.CharField(max_length=200, blank=True)
    started = models.FloatField(null=True, blank=True)
    finished = models.FloatField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["run_kind", "run_id", "started", "id"]

    def __str__(self):
        return f"{self.phase} hook {self.namespace}/{self.pod}"


class OwedPostHooks(RunRow):
    """Post-hooks a running block owes its pods: written as each pod's pre-hooks pass (before the
    block's items), deleted once its post-hooks ran. A row whose job died is run by the watchdog
    or by the worker that takes the batch over, before the block is redone, so a pod frozen by a
    pre-hook is thawed within seconds of the death instead of after the batch lease."""

    backup = models.ForeignKey(
        Backup, on_delete=models.CASCADE, related_name="owed_post_hooks", null=True, blank=True
    )
    restore = models.ForeignKey(
        "Restore", on_delete=models.CASCADE, related_name="owed_post_hooks", null=True, blank=True
    )
    block_index = models.PositiveIntegerField()
    batch = models.PositiveIntegerField()
    job_id = models.CharField(max_length=64)
    worker = models.CharField(max_length=200)
    pods = models.JSONField(default=list, help_text="hook_view of each pod whose post-hooks are owed.")
    created = models.DateTimeField()
    claimed = models.DateTimeField(null=True, blank=True, help_text="When a rescuer took it on.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run_kind", "run_id", "block_index"], name="unique_run_owed_block"
            )
        ]

    def __str__(self):
        return f"{self.run_kind} {self.run_id} block {self.block_index} owes post-hooks"


class BackupLogEntry(models.Model):
    """Every line of a backup's log, in the order recorded (the id): the full log page reads
    these, live while the backup runs; the `-logs.gz` file holds the same lines."""

    backup = models.ForeignKey(Backup, on_delete=models.CASCADE, related_name="log_entries")
    level = models.CharField(max_length=7)
    message = models.TextField()
    resource = models.CharField(max_length=253, blank=True)
    namespace = models.CharField(max_length=253, blank=True)
    name = models.CharField(max_length=253, blank=True)
    time = models.FloatField()
    block_index = models.IntegerField(null=True, blank=True)
    source = models.CharField(max_length=200, blank=True, help_text="Velero's logSource.")

    class Meta:
        ordering = ["backup", "time", "id"]
        indexes = [
            models.Index(fields=["backup", "level"]),
            models.Index(fields=["backup", "id"], name="log_entry_backup_order"),
        ]

    def __str__(self):
        return f"{self.level}: {self.message}"

    def as_log_entry(self):
        from backups.engine.log import LogEntry

        return LogEntry(
            self.level, self.message, self.resource, self.namespace, self.name, self.time, self.source
        )


class Account(models.Model):
    """What Veloweb keeps of a user beyond Django's User: a password an admin reset to a one-time
    one must be changed at the next sign-in (`backups.middleware.PasswordChangeRequired`)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="veloweb_account"
    )
    must_change_password = models.BooleanField(default=False)

    def __str__(self):
        return f"account of {self.user}"


class MetricTally(models.Model):
    """Counters that outlive their rows: what deleted backups had added to Velero's counters
    (attempts, outcomes, the duration histogram, Veloweb's block and hook histograms) and the
    deletion counters, which count events rather than rows. `/metrics` adds the live rows to these,
    so a counter never goes down when a backup is deleted, in any process or after a restart."""

    name = models.CharField(max_length=100)
    schedule = models.CharField(max_length=63, blank=True, help_text="Velero's schedule label.")
    le = models.CharField(max_length=20, blank=True, help_text="A histogram bucket's bound.")
    value = models.FloatField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "schedule", "le"], name="unique_metric_tally")]

    def __str__(self):
        return f"{self.name}{{schedule={self.schedule!r}, le={self.le!r}}} {self.value}"


class ApiToken(models.Model):
    """A user's token for the JSON API: it acts with its user's role of the moment. Only a hash
    is kept; the token itself is shown once, when it is created."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for (a script, a CI job).")
    prefix = models.CharField(max_length=12, help_text="The token's first characters, to recognise it.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def active(self) -> bool:
        return self.revoked is None


class AuditQuerySet(models.QuerySet):
    """Audit entries are only ever added: bulk updates and deletes are refused too."""

    def update(self, **kwargs):
        raise PermissionError("audit entries cannot be changed")

    def delete(self):
        raise PermissionError("audit entries cannot be deleted")


class AuditEntry(models.Model):
    """One change made to Veloweb: who (the user, or `system:...` for schedules and expiry), when,
    from where (the client's address), what (action, object, details). Written only by
    `backups.services.audit.record` and the sign-in signals; never changed or deleted."""

    time = models.DateTimeField(db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(
        max_length=150, blank=True, db_index=True, help_text="Kept after the user goes."
    )
    address = models.GenericIPAddressField(null=True, blank=True)
    via = models.CharField(max_length=10, blank=True, help_text="web, api, cli, sso or system.")
    action = models.CharField(max_length=40, db_index=True)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_name = models.CharField(max_length=253, blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-time", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]
        verbose_name_plural = "audit entries"

    def __str__(self):
        return f"{self.time:%Y-%m-%d %H:%M:%S} {self.username or '-'} {self.action} {self.object_name}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise PermissionError("audit entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("audit entries cannot be deleted")


class NotificationTarget(models.Model):
    """Where notifications go: a webhook (a JSON body signed with HMAC-SHA256) or an Apprise URL
    (Slack, Teams, Matrix, email and the rest). Global, or for one definition's backups and
    schedule. The URL and the secret are sealed (veloweb.crypto): read them with `reveal()`."""

    class Kind(models.TextChoices):
        WEBHOOK = "webhook", "Webhook (signed JSON)"
        APPRISE = "apprise", "Apprise URL (Slack, Teams, Matrix, email...)"

    name = models.CharField(max_length=63, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.WEBHOOK)
    url = SealedField(help_text="Sealed: a webhook's or Apprise's URL may carry a token.")
    secret = SealedField(blank=True, help_text="The webhook's HMAC-SHA256 key (sealed).")
    events = models.JSONField(default=list, help_text="The events it is sent (notifications.EVENTS).")
    definition = models.ForeignKey(
        BackupDefinition,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notification_targets",
        help_text="Only this definition's backups and schedule; empty: every one (global).",
    )
    enabled = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def plain_url(self) -> str:
        """The URL in plaintext, for sending only; raises `Unreadable` under another SECRET_KEY."""
        return reveal(self.url)

    def plain_secret(self) -> str:
        return reveal(self.secret)


class NotificationDelivery(models.Model):
    """One notification to one target, and how its sending went (the log Settings shows)."""

    class State(models.TextChoices):
        PENDING = "pending"
        RETRYING = "retrying"
        SENT = "sent"
        FAILED = "failed"

    target = models.ForeignKey(
        NotificationTarget, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries"
    )
    target_name = models.CharField(max_length=63)
    event = models.CharField(max_length=40)
    subject = models.CharField(max_length=300, blank=True)
    payload = models.JSONField(default=dict)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    test = models.BooleanField(default=False, help_text="Sent by Send test.")
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    sent = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name_plural = "notification deliveries"

    def __str__(self):
        return f"{self.event} to {self.target_name}: {self.state}"


class SsoIdentity(models.Model):
    """The OpenID Connect subject a user signs in as: SSO users are found by (issuer, subject),
    never by a username or email a local account may share."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identity"
    )
    issuer = models.CharField(max_length=300, blank=True)
    subject = models.CharField(max_length=255)
    groups = models.JSONField(default=list, blank=True, help_text="The groups of the last sign-in.")
    last_login = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="sso_identity_unique_subject")
        ]

    def __str__(self):
        return f"{self.subject} ({self.issuer or 'SSO'})"


class Restore(models.Model):
    """A restore of a backup into a registered cluster, with Velero's restore options and phases;
    a run of the machinery (`backups.runs.kinds`, kind "restore") whose batches are tiers' items."""

    class Phase(models.TextChoices):
        NEW = "New"
        IN_PROGRESS = "InProgress"
        FINALIZING = "Finalizing"  # post-restore hooks, results and files
        COMPLETED = "Completed"
        PARTIALLY_FAILED = "PartiallyFailed"
        FAILED = "Failed"
        FAILED_VALIDATION = "FailedValidation"
        CANCELLING = "Cancelling"
        CANCELLED = "Cancelled"

    TERMINAL = (
        Phase.COMPLETED,
        Phase.PARTIALLY_FAILED,
        Phase.FAILED,
        Phase.FAILED_VALIDATION,
        Phase.CANCELLED,
    )
    RUNNING = (Phase.NEW, Phase.IN_PROGRESS, Phase.FINALIZING, Phase.CANCELLING)
    # the options, under the names of Velero's RestoreSpec, that `engine.restore.RestoreSpec` reads
    OPTION_FIELDS = (
        "included_namespaces",
        "excluded_namespaces",
        "included_resources",
        "excluded_resources",
        "include_cluster_resources",
        "label_selector",
        "or_label_selectors",
        "namespace_mapping",
        "restore_pvs",
        "preserve_node_ports",
        "existing_resource_policy",
        "status_included_resources",
        "status_excluded_resources",
        "resource_modifiers",
        "priorities",
        "hooks",
        "workers",
    )

    name = models.CharField(max_length=63, unique=True)
    # a deleted backup keeps its restores' history: the name stays
    backup = models.ForeignKey(
        Backup, on_delete=models.SET_NULL, null=True, blank=True, related_name="restores"
    )
    backup_name = models.CharField(max_length=63)
    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="restores")
    storage_location = models.ForeignKey(
        StorageLocation, on_delete=models.SET_NULL, null=True, blank=True, related_name="restores"
    )
    included_namespaces = models.JSONField(default=list, blank=True)
    excluded_namespaces = models.JSONField(default=list, blank=True)
    included_resources = models.JSONField(default=list, blank=True)
    excluded_resources = models.JSONField(default=list, blank=True)
    include_cluster_resources = models.BooleanField(null=True, blank=True)
    label_selector = models.CharField(max_length=500, blank=True)
    or_label_selectors = models.JSONField(default=list, blank=True)
    namespace_mapping = models.JSONField(default=dict, blank=True, help_text="Velero's namespaceMapping.")
    restore_pvs = models.BooleanField(null=True, blank=True, help_text="Velero's restorePVs.")
    preserve_node_ports = models.BooleanField(null=True, blank=True)
    existing_resource_policy = models.CharField(max_length=10, blank=True, help_text="'', none or update.")
    status_included_resources = models.JSONField(default=list, blank=True)
    status_excluded_resources = models.JSONField(default=list, blank=True)
    resource_modifiers = models.TextField(blank=True, help_text="Velero's resource modifier rules (YAML).")
    priorities = models.JSONField(default=list, blank=True, help_text="Restore priorities; empty: Velero's.")
    hooks = models.JSONField(
        default=dict, blank=True, help_text="Velero's restore spec.hooks: {resources: [...]}"
    )
    workers = models.PositiveSmallIntegerField(default=4)
    # status
    phase = models.CharField(max_length=20, choices=Phase.choices, default=Phase.NEW)
    validation_errors = models.JSONField(default=list, blank=True)
    failure_reason = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by_name = models.CharField(max_length=150, blank=True, help_text="Who started it (CLI: login).")
    started = models.DateTimeField(null=True, blank=True)
    completed = models.DateTimeField(null=True, blank=True)
    total_items = models.PositiveIntegerField(default=0)
    items_restored = models.PositiveIntegerField(default=0)
    items_skipped = models.PositiveIntegerField(default=0)
    items_failed = models.PositiveIntegerField(default=0)
    items_excluded = models.PositiveIntegerField(default=0)
    total_tiers = models.PositiveIntegerField(default=0)
    current_tier = models.IntegerField(default=-1, help_text="The tier whose batches are handed out.")
    blocks_done = models.PositiveIntegerField(default=0, help_text="Items done (each item is a block).")
    errors = models.PositiveIntegerField(default=0)
    warnings = models.PositiveIntegerField(default=0)
    hooks_attempted = models.PositiveIntegerField(default=0)
    hooks_failed = models.PositiveIntegerField(default=0)
    attempt = models.PositiveIntegerField(default=0, help_text="Dispatch jobs enqueued.")
    finalize_attempts = models.PositiveIntegerField(default=0, help_text="Finalize jobs enqueued.")
    cancelled_by = models.CharField(max_length=150, blank=True)
    job_id = models.CharField(max_length=64, blank=True, help_text="The RQ job dispatching or finalizing it.")
    request_token = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    metrics_folded = models.BooleanField(
        default=False,
        help_text="Its blocks', hooks' and batches' share of the metrics is in MetricTally "
        "(backups.metrics.tally).",
    )

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["phase"], name="backups_restore_phase")]

    def __str__(self):
        return self.name

    @property
    def is_terminal(self) -> bool:
        return self.phase in self.TERMINAL

    @property
    def cancellable(self) -> bool:
        return self.phase in (self.Phase.NEW, self.Phase.IN_PROGRESS)

    def options(self) -> dict:
        return {field: getattr(self, field) for field in self.OPTION_FIELDS}


class RestoreTier(models.Model):
    """One priority tier of a restore: its items are restored in parallel, the whole tier before
    the next one starts; counters are added by the batches that finish."""

    restore = models.ForeignKey(Restore, on_delete=models.CASCADE, related_name="tiers")
    index = models.PositiveIntegerField()
    label = models.CharField(max_length=400, help_text="The resources of the tier.")
    item_count = models.PositiveIntegerField(default=0)
    first_batch = models.PositiveIntegerField(default=0)
    batch_count = models.PositiveIntegerField(default=0)
    restored = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["restore", "index"]
        constraints = [models.UniqueConstraint(fields=["restore", "index"], name="unique_restore_tier")]

    def __str__(self):
        return f"{self.restore_id} tier {self.index}"

    @property
    def done(self) -> int:
        return self.restored + self.skipped + self.failed


class RestoreLogEntry(models.Model):
    """Warnings and errors of a restore (info lines go to its log file only)."""

    restore = models.ForeignKey(Restore, on_delete=models.CASCADE, related_name="log_entries")
    level = models.CharField(max_length=7)
    message = models.TextField()
    resource = models.CharField(max_length=253, blank=True)
    namespace = models.CharField(max_length=253, blank=True)
    name = models.CharField(max_length=253, blank=True)
    time = models.FloatField()

    class Meta:
        ordering = ["restore", "time", "id"]
        indexes = [models.Index(fields=["restore", "level"], name="backups_restorelog_level")]

    def __str__(self):
        return f"{self.level}: {self.message}"
