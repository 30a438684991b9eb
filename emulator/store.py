"""Object store with per-(resource, namespace) sorted indexes, plus the discovery registry."""

import base64
import binascii
import bisect
import datetime
import gc
import json
import re
import threading
import uuid

from backups.engine.manifests.discovery_table import BUILTIN_RESOURCES, BUILTIN_SUBRESOURCES

_DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_SKIP_TYPE_KEYS = ("apiVersion", "kind")


def split_api_version(api_version):
    group, _, version = (api_version or "").rpartition("/")
    return group, version


class ResourceInfo:
    __slots__ = (
        "group",
        "versions",
        "resource",
        "kind",
        "namespaced",
        "short_names",
        "verbs",
        "singular",
        "categories",
        "subresources",
        "from_crd",
        "storage",
    )

    def __init__(
        self,
        group,
        resource,
        kind,
        namespaced,
        short_names=(),
        verbs=(),
        singular="",
        categories=(),
        from_crd=False,
        storage=None,
    ):
        self.group = group
        self.versions = []
        self.resource = resource
        self.kind = kind
        self.namespaced = namespaced
        self.short_names = list(short_names)
        self.verbs = list(verbs)
        self.singular = singular or kind.lower()
        self.categories = list(categories)
        self.subresources = {}  # version -> list of (name, kind, verbs)
        self.from_crd = from_crd
        # the (group, resource) whose objects these are: a resource served by two groups
        # (deployments in apps and extensions) reads and writes the same objects
        self.storage = storage or (group, resource)


class Entry:
    """One stored object; ``item_json`` caches its list-item serialization (without apiVersion/kind)."""

    __slots__ = ("obj", "_item_json")

    def __init__(self, obj):
        self.obj = obj
        self._item_json = None

    @property
    def labels(self):
        return self.obj["metadata"].get("labels") or {}

    @property
    def item_json(self):
        if self._item_json is None:
            self._item_json = _DUMPS({k: v for k, v in self.obj.items() if k not in _SKIP_TYPE_KEYS}).encode()
        return self._item_json


class ResourceStore:
    """Objects of one (group, resource): sorted keys overall and per namespace."""

    def __init__(self):
        self.objs = {}  # (ns, name) -> Entry
        self.keys = []  # sorted [(ns, name)]
        self.ns_names = {}  # ns -> sorted [name]
        self._dirty = False

    def put(self, ns, name, entry, bulk=False):
        key = (ns, name)
        if key not in self.objs:
            names = self.ns_names.setdefault(ns, [])
            if bulk:
                self.keys.append(key)
                names.append(name)
                self._dirty = True
            else:
                self._sort()
                bisect.insort(self.keys, key)
                bisect.insort(names, name)
        self.objs[key] = entry

    def remove(self, ns, name):
        key = (ns, name)
        entry = self.objs.pop(key, None)
        if entry is None:
            return None
        self._sort()
        i = bisect.bisect_left(self.keys, key)
        del self.keys[i]
        names = self.ns_names[ns]
        del names[bisect.bisect_left(names, name)]
        if not names:
            del self.ns_names[ns]
        return entry

    def _sort(self):
        if self._dirty:
            self.keys.sort()
            for names in self.ns_names.values():
                names.sort()
            self._dirty = False

    def get(self, ns, name):
        return self.objs.get((ns, name))

    def page(self, ns, start_after, limit, predicate=None):
        """Return (entries, last_key, remaining) for keys after ``start_after`` ((ns, name) or None).

        ``ns`` None lists all namespaces. ``remaining`` is the number of keys after the page (not filtered)
        and 0 if the page reached the end; with a predicate, scanning continues until ``limit`` matches.
        """
        self._sort()
        if ns is None:
            keys = self.keys
            start = bisect.bisect_right(keys, start_after) if start_after else 0

            def key_at(i):
                return keys[i]
        else:
            keys = self.ns_names.get(ns, ())
            start = bisect.bisect_right(keys, start_after[1]) if start_after else 0

            def key_at(i):
                return (ns, keys[i])

        out = []
        n = len(keys)
        i = start
        objs = self.objs
        last = None
        while i < n and (not limit or len(out) < limit):
            key = key_at(i)
            entry = objs[key]
            i += 1
            if predicate is None or predicate(entry):
                out.append(entry)
                last = key
        if predicate is not None and limit and len(out) == limit:
            last = key_at(i - 1)
        return out, last, n - i

    def __len__(self):
        return len(self.objs)


def encode_continue(rv, key):
    token = {"v": "meta.k8s.io/v1", "rv": rv, "start": f"{key[0]}/{key[1]}\x00"}
    return base64.urlsafe_b64encode(json.dumps(token, separators=(",", ":")).encode()).decode()


def decode_continue(token):
    """Return (rv, (ns, name)); raise ValueError on a malformed token."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
        start = data["start"]
        if data.get("v") != "meta.k8s.io/v1" or not start.endswith("\x00"):
            raise ValueError("bad version")
        ns, _, name = start[:-1].rpartition("/")
        return int(data["rv"]), (ns, name)
    except (
        binascii.Error,
        KeyError,
        TypeError,
        AttributeError,
        json.JSONDecodeError,
        UnicodeDecodeError,
    ) as e:
        raise ValueError(str(e)) from None


class Store:
    """All objects plus the resource registry (built-ins and CRD-defined resources). Thread-safe."""

    def __init__(self, resources=None):
        """``resources``: the discovery table to serve instead of the built-in one (dicts with
        the keys of ``BUILTIN_RESOURCES``, plus optional ``sameAs``, see ``serve``); the first
        version listed for a group is its preferred version unless one says ``preferred``."""
        self.lock = threading.RLock()
        self.resources = {}  # (group, resource) -> ResourceInfo
        self.by_kind = {}  # (group, kind) -> ResourceInfo
        self.by_version = {}  # (group, version, resource) -> ResourceInfo
        self.groups = {"": ["v1"]}  # group -> [versions], preferred first; /api/v1 is always served
        self.stores = {}  # storage (group, resource) -> ResourceStore
        self.rv = 1000
        for d in BUILTIN_RESOURCES if resources is None else resources:
            self.serve(d)
        for d in BUILTIN_SUBRESOURCES if resources is None else ():
            parent, sub = d["resource"].split("/")
            info = self.resources[(d["group"], parent)]
            info.subresources.setdefault(d["version"], []).append((sub, d["kind"], d["verbs"]))

    def serve(self, d):
        """Serve one resource at one group/version, described like a ``BUILTIN_RESOURCES`` entry.

        ``sameAs`` ("deployments.apps") makes the resource a second name for that one's objects, as
        an API server serves deployments under both ``apps`` and ``extensions``; ``preferred``
        makes this version the group's preferred one."""
        same_as = d.get("sameAs")
        storage = None
        if same_as:
            resource, _, group = same_as.partition(".")
            if (group, resource) not in self.resources:
                raise ValueError(f"sameAs {same_as!r}: that resource is not served")
            storage = self.resources[(group, resource)].storage
        return self._register(
            d["group"],
            d["version"],
            d["resource"],
            d["kind"],
            d["namespaced"],
            d.get("shortNames", ()),
            d.get("verbs", ALL_VERBS_BUILTIN),
            d.get("singularName", ""),
            d.get("categories", ()),
            False,
            preferred=bool(d.get("preferred")),
            storage=storage,
        )

    # ---- registry
    def _register(
        self,
        group,
        version,
        resource,
        kind,
        namespaced,
        short,
        verbs,
        singular,
        categories,
        from_crd,
        preferred=False,
        storage=None,
    ):
        info = self.resources.get((group, resource))
        if info is None:
            info = ResourceInfo(
                group, resource, kind, namespaced, short, verbs, singular, categories, from_crd, storage
            )
            self.resources[(group, resource)] = info
            self.stores.setdefault(info.storage, ResourceStore())
        if version not in info.versions:
            info.versions.append(version)
        self.by_kind[(group, kind)] = info
        self.by_version[(group, version, resource)] = info
        versions = self.groups.setdefault(group, [])
        if version not in versions:
            versions.append(version)
        if from_crd:
            versions.sort(key=version_priority)
        elif preferred:
            versions.remove(version)
            versions.insert(0, version)
        return info

    def register_crd(self, crd):
        spec = crd.get("spec") or {}
        group = spec.get("group")
        names = spec.get("names") or {}
        plural, kind = names.get("plural"), names.get("kind")
        if not group or not plural or not kind:
            return
        existing = self.resources.get((group, plural))
        if existing is not None and not existing.from_crd:
            return  # a built-in resource (e.g. the snapshot CRDs) is already served
        versions = [v for v in spec.get("versions") or [] if v.get("served", True)]
        # as apiextensions-apiserver: the group's versions in kube-aware priority order (v2 > v1 >
        # v1beta2 > v1beta1 > v1alpha1 > others), the first one preferred, whatever the storage version
        versions.sort(key=lambda v: version_priority(v["name"]))
        for v in versions:
            info = self._register(
                group,
                v["name"],
                plural,
                kind,
                spec.get("scope", "Namespaced") == "Namespaced",
                names.get("shortNames", ()),
                ALL_VERBS_CRD,
                names.get("singular") or "",
                names.get("categories", ()),
                True,
            )
            subs = []
            if "status" in (v.get("subresources") or {}):
                subs.append(("status", kind, ["get", "patch", "update"]))
            if "scale" in (v.get("subresources") or {}):
                subs.append(("scale", "Scale", ["get", "patch", "update"]))
            info.subresources[v["name"]] = subs

    def unregister_crd(self, crd):
        spec = crd.get("spec") or {}
        group, plural = spec.get("group"), (spec.get("names") or {}).get("plural")
        info = self.resources.get((group, plural))
        if info is None or not info.from_crd:
            return
        del self.resources[(group, plural)]
        self.by_kind.pop((group, info.kind), None)
        for v in info.versions:
            self.by_version.pop((group, v, plural), None)
        still = {v for (g, v, _r) in self.by_version if g == group}
        self.groups[group] = [v for v in self.groups.get(group, []) if v in still]
        if not self.groups[group]:
            del self.groups[group]

    def resolve(self, group_resource):
        """'pods', 'deployments.apps', ('apps', 'deployments') -> ResourceInfo or None."""
        if isinstance(group_resource, tuple):
            group, resource = group_resource
        else:
            resource, _, group = group_resource.partition(".")
        return self.resources.get((group, resource))

    # ---- objects
    def _next_rv(self):
        self.rv += 1
        return self.rv

    def prepare(self, obj):
        """Validate and normalise an object; return (info, ns, name, obj_copy)."""
        if not isinstance(obj, dict):
            raise ValueError(f"object must be a mapping, got {type(obj).__name__}")
        group, version = split_api_version(obj.get("apiVersion"))
        kind = obj.get("kind")
        info = self.by_kind.get((group, kind))
        if not version or info is None:
            raise ValueError(f"no resource known for apiVersion={obj.get('apiVersion')!r} kind={kind!r}")
        obj = dict(obj)
        meta = dict(obj.get("metadata") or {})
        obj["metadata"] = meta
        name = meta.get("name")
        if not name:
            raise ValueError(f"{kind} without metadata.name")
        if info.namespaced:
            if not meta.get("namespace"):
                meta["namespace"] = "default"
        elif "namespace" in meta:
            del meta["namespace"]
        if "uid" not in meta:
            meta["uid"] = str(uuid.uuid4())
        if "creationTimestamp" not in meta:
            meta["creationTimestamp"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return info, meta.get("namespace", ""), name, obj

    def add(self, obj, bulk=False, bump_rv=True, register=True):
        """Add or replace an object; a CRD's resources are served at once unless ``register`` is
        False (a CRD created through the API is served once established, see controllers)."""
        with self.lock:
            info, ns, name, obj = self.prepare(obj)
            meta = obj["metadata"]
            if bump_rv or "resourceVersion" not in meta:
                meta["resourceVersion"] = str(self._next_rv())
            self.stores[info.storage].put(ns, name, Entry(obj), bulk=bulk)
            if (
                register
                and info.group == "apiextensions.k8s.io"
                and info.resource == "customresourcedefinitions"
            ):
                self.register_crd(obj)
            return obj

    def add_many(self, objs):
        """Seed objects: CRDs first (so their kinds are known), bulk insert, then sort once."""
        gc_was_enabled = gc.isenabled()
        gc.disable()  # seeding 300k objects: cyclic GC passes would dominate
        try:
            self._add_many(objs)
        finally:
            if gc_was_enabled:
                gc.enable()

    def _add_many(self, objs):
        with self.lock:
            objs = list(objs)
            crds = [o for o in objs if o.get("kind") == "CustomResourceDefinition"]
            for o in crds:
                self.add(o, bump_rv=False)
            for o in objs:
                if o.get("kind") != "CustomResourceDefinition":
                    self.add(o, bulk=True, bump_rv=False)
            for s in self.stores.values():
                s._sort()

    def delete(self, info, ns, name):
        with self.lock:
            entry = self.stores[info.storage].remove(ns if info.namespaced else "", name)
            if entry is None:
                return None
            self._next_rv()
            if info.group == "apiextensions.k8s.io" and info.resource == "customresourcedefinitions":
                self.unregister_crd(entry.obj)
            return entry.obj

    def get(self, info, ns, name):
        with self.lock:
            return self.stores[info.storage].get(ns if info.namespaced else "", name)

    def all_objects(self):
        with self.lock:
            return [e.obj for s in self.stores.values() for e in s.objs.values()]


ALL_VERBS_CRD = ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"]
ALL_VERBS_BUILTIN = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
_KUBE_VERSION = re.compile(r"^v([1-9][0-9]*)(?:(alpha|beta)([1-9][0-9]*))?$")


def version_priority(version):
    """Sort key of Kubernetes' kube-aware version order: GA before beta before alpha, higher
    numbers first, then versions that do not look like Kubernetes versions, by name."""
    m = _KUBE_VERSION.match(version)
    if not m:
        return (3, 0, 0, version)
    stage = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    return (stage, -int(m.group(1)), -int(m.group(3) or 0), version)
