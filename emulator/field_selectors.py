"""Field selectors with the Kubernetes syntax (label selectors: `backups.engine.planning.label_selectors`)."""

import re


class SelectorError(ValueError):
    """An invalid field selector (served as 400 BadRequest)."""


# Field selectors supported by the real API server per resource (metadata.name/namespace always work).
FIELD_SELECTORS = {
    "pods": {
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    },
    "secrets": {"type"},
    "namespaces": {"status.phase"},
    "nodes": {"spec.unschedulable"},
    "replicasets": {"status.replicas"},
    "replicationcontrollers": {"status.replicas"},
    "jobs": {"status.successful"},
    "events": {
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    },
    "certificatesigningrequests": {"spec.signerName"},
}


def parse_field_selector(text, resource):
    """Parse a field selector into (path_tuple, op, value) requirements; raise SelectorError."""
    if text is None or not text.strip():
        return []
    allowed = {"metadata.name", "metadata.namespace"} | FIELD_SELECTORS.get(resource, set())
    reqs = []
    for part in text.split(","):
        part = part.strip()
        m = re.match(r"^([^=!]+?)\s*(==|=|!=)\s*(.*)$", part)
        if not m:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, value = m.group(1).strip(), m.group(2), m.group(3).strip()
        if field not in allowed:
            raise SelectorError(f"field label not supported: {field}")
        reqs.append((tuple(field.split(".")), "!=" if op == "!=" else "=", value))
    return reqs


def _field_value(obj, path):
    cur = obj
    for p in path:
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(p)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def match_fields(reqs, obj):
    for path, op, value in reqs:
        actual = _field_value(obj, path)
        if (actual == value) != (op == "="):
            return False
    return True
