"""Waiting until restored CRDs are established, before their custom resources are restored.

Velero checks each CRD right after creating it (crdAvailable: polls until the Established
condition is True, within the resource timeout) and refreshes discovery once the CRD tier is done.
Veloweb restores the CRD tier in parallel, then waits for all of its CRDs at once and refreshes
the discovery the next tiers resolve their resources with.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from backups.engine.planning.resources import ResourceInfo
from backups.engine.source import SourceError

from .context import RestoreContext

DEFAULT_CRD_TIMEOUT = 60.0
POLL_INTERVAL = 0.1
CRD_INFO = ResourceInfo(
    "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False
)


def is_established(crd: dict | None) -> bool:
    for condition in ((crd or {}).get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Established" and condition.get("status") == "True":
            return True
    return False


def wait_for_crds(
    names: Sequence[str],
    ctx: RestoreContext,
    *,
    timeout: float = DEFAULT_CRD_TIMEOUT,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Wait until each CRD named has the Established condition True (polling), then refresh the
    context's discovery; returns the names not established in time, each also an error of the
    restore ("the CRD X is not available to use for custom resources")."""
    pending = list(dict.fromkeys(names))
    deadline = clock() + timeout
    info = ctx.table().by_group_resource(CRD_INFO.group_resource) or CRD_INFO
    while pending:
        still = []
        for name in pending:
            try:
                crd = ctx.target.get(info, None, name)
            except SourceError as exc:
                ctx.log.warning(f"error verifying the CRD {name} is ready to use: {exc}")
                crd = None
            if not is_established(crd):
                still.append(name)
        pending = still
        if not pending or clock() >= deadline:
            break
        sleep(POLL_INTERVAL)
    for name in pending:
        message = f"the CRD {name} is not available to use for custom resources"
        ctx.results.error("", message)
        ctx.log.error(message, resource=CRD_INFO.group_resource, name=name)
    if len(pending) < len(names) or not names:
        try:
            ctx.refresh_table()
        except SourceError as exc:
            ctx.results.warn("", f"refresh discovery after restoring CRDs: {exc}")
    return pending
