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

        from backups import jobs  # noqa: F401
