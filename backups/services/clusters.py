"""Registered clusters as admins manage them: the check on save and on demand (reachable, the
context exists, discovery answers), its recorded status, and a server URL that a broken kubeconfig
can never turn into an error page."""

from __future__ import annotations

import logging

from django.core.cache import cache

from backups.engine.planning.resources import ResourceTable
from backups.engine.planning.spec import spec_warnings
from backups.engine.running.hook_spec import hook_warnings, parse_resource_hooks
from backups.models import Cluster
from backups.services import audit
from backups.validation import Problem, backup_spec

log = logging.getLogger(__name__)
CHECK_TIMEOUT = 10.0  # seconds per request: a check answers while the admin waits
FACTS_SECONDS = 60  # the namespaces and discovery behind the form's hints, cached this long


def cluster_problem(cluster: Cluster) -> str:
    """Why Veloweb cannot read this cluster ("" when it can): a kubeconfig that is missing or
    invalid, an unknown context, an API server that does not answer or refuses discovery."""
    from backups.kube import SourceError, connect

    try:
        source = connect(
            kubeconfig=cluster.kubeconfig_path or None,
            context=cluster.context or None,
            in_cluster=cluster.in_cluster,
            request_timeout=CHECK_TIMEOUT,
        )
    except (SourceError, ValueError, OSError) as error:
        return _one_line(error)
    try:
        table = source.resources()
    except (SourceError, ValueError, OSError) as error:
        return f"discovery failed: {_one_line(error)}"
    finally:
        source.close()
    if not any(r.resource == "namespaces" and not r.group for r in table):
        return "discovery answered, but the cluster serves no namespaces: is this a Kubernetes API server?"
    return ""


def check_cluster(cluster: Cluster, now=None) -> str:
    """Check the cluster now and record the result on it; the problem, or ""."""
    problem = cluster_problem(cluster)
    cluster.record_check(problem, now)
    if problem:
        log.warning("cluster %s is unavailable: %s", cluster.name, problem)
    return problem


CLUSTER_FIELDS = ("name", "kubeconfig_path", "context", "in_cluster")


def cluster_save(cluster: Cluster) -> Cluster:
    """Save a cluster (checked by its form or the command) and record what changed."""
    before = Cluster.objects.filter(pk=cluster.pk).values(*CLUSTER_FIELDS).first() if cluster.pk else None
    cluster.save()
    after = {field: getattr(cluster, field) for field in CLUSTER_FIELDS}
    if before is None:
        audit.record(audit.CLUSTER_CREATED, cluster, details=after)
    elif changed := audit.changes(before, after):
        audit.record(audit.CLUSTER_UPDATED, cluster, details={"changed": changed})
    return cluster


def cluster_remove(cluster: Cluster) -> None:
    """Remove a cluster (refused by the database while definitions use it: ProtectedError)."""
    audit_id = cluster.pk
    cluster.delete()
    audit.record(audit.CLUSTER_REMOVED, cluster, object_id=str(audit_id))


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:500] or type(error).__name__


def option_warnings(cluster: Cluster, fields: dict) -> list[Problem]:
    """What the cluster says of a backup's options before it runs (the engine's `spec_warnings`
    with its discovery and namespaces): names that match nothing. Warnings, not refusals: Velero
    runs such a backup, and its log says the same."""
    facts = _facts(cluster)
    if facts is None:
        return []
    namespaces, table = facts
    spec = backup_spec(fields)
    found = [Problem(field, message) for field, message in spec_warnings(spec, table, namespaces)]
    hooks = fields.get("hooks")
    if isinstance(hooks, dict):
        try:
            parsed = parse_resource_hooks(hooks.get("resources"), table)
        except ValueError:  # an invalid hook is the form's error, not a warning
            parsed = []
        found += [Problem("hooks", message) for message in hook_warnings(parsed)]
    return found


def _facts(cluster: Cluster) -> tuple[list[str], ResourceTable] | None:
    """The cluster's namespace names and discovery, cached briefly; None when it cannot be read."""
    from backups.kube import SourceError

    key = (
        f"veloweb:cluster-facts:{cluster.pk}:{cluster.kubeconfig_path}:{cluster.context}:{cluster.in_cluster}"
    )
    facts = cache.get(key)
    if facts is not None:
        return facts or None
    try:
        source = cluster.connect()
        try:
            table = source.resources()
            info = table.by_group_resource("namespaces")
            names = [o["metadata"]["name"] for o in source.list(info)] if info else []
        finally:
            source.close()
        facts = (names, table)
    except (SourceError, ValueError, OSError, KeyError, TypeError) as error:
        log.info("cluster %s: no hints for the define form: %s", cluster.name, error)
        facts = ()
    cache.set(key, facts, FACTS_SECONDS)
    return facts or None
