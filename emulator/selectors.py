"""Label and field selectors with the Kubernetes syntax."""

import re

_NAME_RE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS1123_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_TOKEN_RE = re.compile(r"\s*(!=|==|=|!|\(|\)|,|<|>|[^\s!=(),<>]+)")


class SelectorError(ValueError):
    """An invalid label or field selector (served as 400 BadRequest)."""


def _validate_key(key):
    prefix, _, name = key.rpartition("/")
    if "/" in key and not prefix:
        raise SelectorError(
            f'unable to parse requirement: key: Invalid value: "{key}": prefix part must be non-empty'
        )
    if prefix and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN_RE.match(prefix)):
        raise SelectorError(
            f'unable to parse requirement: key: Invalid value: "{key}": prefix part a '
            "lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
            "'-' or '.', and must start and end with an alphanumeric character"
        )
    if not name or len(name) > 63 or not _NAME_RE.match(name):
        raise SelectorError(
            f'unable to parse requirement: key: Invalid value: "{key}": name part must consist '
            "of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
            "for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        )


def _validate_value(key, value):
    if value and (len(value) > 63 or not _NAME_RE.match(value)):
        raise SelectorError(
            f'unable to parse requirement: values[0][{key}]: Invalid value: "{value}": a valid '
            "label must be an empty string or consist of alphanumeric characters, '-', '_' or "
            "'.', and must start and end with an alphanumeric character"
        )


def _tokenize(text):
    tokens = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m:  # pragma: no cover - the regex matches any non-space character
            raise SelectorError(f"unable to parse requirement: unexpected character at {pos}")
        tokens.append(m.group(1))
        pos = m.end()
    return tokens


_OPS = {"=", "==", "!=", "in", "notin", "<", ">"}
_SPECIAL = {"!=", "==", "=", "!", "(", ")", ",", "<", ">"}


def parse_label_selector(text):
    """Parse a label selector into a list of (key, op, values) requirements; raise SelectorError."""
    if text is None or not text.strip():
        return []
    tokens = _tokenize(text)
    reqs = []
    i = 0

    def peek():
        return tokens[i] if i < len(tokens) else None

    while True:
        tok = peek()
        if tok is None:
            raise SelectorError("unable to parse requirement: found '', expected: identifier")
        if tok == "!":
            i += 1
            key = peek()
            if key is None or key in _SPECIAL:
                raise SelectorError(
                    f"unable to parse requirement: found '{key or ''}', expected: identifier after '!'"
                )
            _validate_key(key)
            i += 1
            reqs.append((key, "!", ()))
        else:
            if tok in _SPECIAL:
                raise SelectorError(f"unable to parse requirement: found '{tok}', expected: !, identifier")
            key = tok
            _validate_key(key)
            i += 1
            op = peek()
            if op is None or op == ",":
                reqs.append((key, "exists", ()))
            elif op in ("=", "==", "!="):
                i += 1
                val = peek()
                if val is None or val == ",":
                    val = ""
                elif val in _SPECIAL:
                    raise SelectorError(f"unable to parse requirement: found '{val}', expected: identifier")
                else:
                    i += 1
                _validate_value(key, val)
                reqs.append((key, "!=" if op == "!=" else "=", (val,)))
            elif op in ("in", "notin"):
                i += 1
                if peek() != "(":
                    raise SelectorError(f"unable to parse requirement: found '{peek() or ''}', expected: '('")
                i += 1
                raw = []
                while peek() != ")":
                    val = peek()
                    if val is None or (val in _SPECIAL and val != ","):
                        raise SelectorError(
                            f"unable to parse requirement: found '{val or ''}', expected: ',', "
                            "')' or identifier"
                        )
                    raw.append(val)
                    i += 1
                i += 1
                if not raw:
                    raise SelectorError(
                        f'unable to parse requirement: values: Invalid value: "{key}": for '
                        "'in', 'notin' operators, values set can't be empty"
                    )
                values = [v.strip() for v in "".join(raw).split(",")]
                for val in values:
                    _validate_value(key, val)
                reqs.append((key, op, frozenset(values)))
            elif op in ("<", ">"):
                i += 1
                val = peek()
                try:
                    num = int(val or "")
                except ValueError:
                    raise SelectorError(
                        f'unable to parse requirement: values[0]: Invalid value: "{val}": '
                        "for 'Gt', 'Lt' operators, the value must be an integer"
                    ) from None
                i += 1
                reqs.append((key, op, (num,)))
            else:
                raise SelectorError(
                    f"unable to parse requirement: found '{op}', expected: in, notin, =, ==, !=, gt, lt"
                )
        tok = peek()
        if tok is None:
            break
        if tok != ",":
            raise SelectorError(f"found '{tok}', expected: ',' or 'end of string'")
        i += 1
    return reqs


def match_labels(reqs, labels):
    """True if a label dict satisfies every requirement."""
    for key, op, values in reqs:
        if op == "=":
            if labels.get(key) != values[0]:
                return False
        elif op == "!=":
            if labels.get(key) == values[0] and key in labels:
                return False
        elif op == "in":
            if key not in labels or labels[key] not in values:
                return False
        elif op == "notin":
            if key in labels and labels[key] in values:
                return False
        elif op == "exists":
            if key not in labels:
                return False
        elif op == "!":
            if key in labels:
                return False
        else:  # < and >
            try:
                num = int(labels[key])
            except (KeyError, ValueError):
                return False
            if (op == "<" and not num < values[0]) or (op == ">" and not num > values[0]):
                return False
    return True


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
