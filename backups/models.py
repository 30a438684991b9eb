from pathlib import Path

import yaml
from django.db import models


class Cluster(models.Model):
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
        if self.in_cluster or not self.kubeconfig_path:
            return ""
        try:
            config = yaml.safe_load(Path(self.kubeconfig_path).read_text()) or {}
        except (OSError, yaml.YAMLError):
            return ""
        context_name = self.context or config.get("current-context")
        contexts = {c.get("name"): c.get("context") or {} for c in config.get("contexts") or []}
        clusters = {c.get("name"): c.get("cluster") or {} for c in config.get("clusters") or []}
        cluster_name = contexts.get(context_name, {}).get("cluster")
        return clusters.get(cluster_name, {}).get("server", "")
