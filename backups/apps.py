from django.apps import AppConfig


class BackupsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "backups"
    verbose_name = "Backups"

    def ready(self):
        # RQ forks a work horse per job: importing the jobs and the Kubernetes client once in the
        # parent saves every job from importing them again (CoreV1Api alone, which pod exec
        # needs, is a lazy 0.45 s import).
        from kubernetes.client import CoreV1Api  # noqa: F401

        from backups.kube import connect  # noqa: F401 - each batch job connects to its cluster
        from backups.runs import tasks  # noqa: F401

        _import_channel_layer_backend()
        _keep_counters_of_deleted_backups()

        from backups.services import sign_ins, users

        sign_ins.connect()  # the audit trail's sign-ins, and users changed outside Settings
        users.connect()


def _keep_counters_of_deleted_backups() -> None:
    """A deleted backup's share of the metrics counters moves into the tally in the deleting
    transaction (backups.metrics.tally), whoever deletes it."""
    from django.db.models.signals import pre_delete

    from backups.metrics import tally
    from backups.models import Backup, Restore

    def retire(sender, instance, **kwargs):
        tally.retire_backup(instance)

    def retire_restore(sender, instance, **kwargs):
        tally.retire_restore(instance)

    pre_delete.connect(retire, sender=Backup, weak=False, dispatch_uid="backups.metrics.retire")
    pre_delete.connect(
        retire_restore, sender=Restore, weak=False, dispatch_uid="backups.metrics.retire_restore"
    )


def _import_channel_layer_backend() -> None:
    """The channel layer's backend module (channels_redis pulls in msgpack and cryptography: 30 ms
    a job when each work horse imports it on its first progress message)."""
    import importlib

    from django.conf import settings

    backend = (getattr(settings, "CHANNEL_LAYERS", {}).get("default") or {}).get("BACKEND", "")
    if backend:
        importlib.import_module(backend.rsplit(".", 1)[0])
