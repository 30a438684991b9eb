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

        from backups.services import sign_ins, users

        sign_ins.connect()
        users.connect()


def _import_channel_layer_backend() -> None:
    """The channel layer's backend module (channels_redis pulls in msgpack and cryptography: 30 ms
    a job when each work horse imports it on its first progress message)."""
    import importlib

    from django.conf import settings

    backend = (getattr(settings, "CHANNEL_LAYERS", {}).get("default") or {}).get("BACKEND", "")
    if backend:
        importlib.import_module(backend.rsplit(".", 1)[0])
