"""Sources for engine tests: the offline manifest source, and a wrapper that counts and fails calls."""

from __future__ import annotations

from collections import Counter

from backups.engine.log import BackupLog
from backups.engine.manifests.reader import ManifestSource
from backups.engine.planning.itemblocks import plan_item_blocks
from backups.engine.planning.spec import BackupSpec
from backups.engine.source import SourceError


class RecordingSource:
    """Wraps a source: counts list/get calls per resource and fails chosen ones with an HTTP status."""

    def __init__(
        self,
        inner,
        fail_list: dict[tuple[str, str | None], int] | None = None,
        fail_get: dict[str, int] | None = None,
    ):
        self.inner = inner
        self.lists: Counter = Counter()
        self.gets: Counter = Counter()
        self.fail_list = fail_list or {}
        self.fail_get = fail_get or {}

    def resources(self):
        return self.inner.resources()

    def list(self, resource, namespace=None, label_selector=None):
        gr = resource.group_resource
        self.lists[(gr, namespace)] += 1
        status = self.fail_list.get((gr, namespace))
        if status:
            raise SourceError("forbidden", resource=gr, namespace=namespace or "", status=status)
        return self.inner.list(resource, namespace, label_selector)

    def get(self, resource, namespace, name):
        gr = resource.group_resource
        self.gets[gr] += 1
        if gr in self.fail_get:
            raise SourceError(
                "server error", resource=gr, namespace=namespace or "", status=self.fail_get[gr]
            )
        return self.inner.get(resource, namespace, name)


def plan(objects, source=None, relations=None, **spec):
    log = BackupLog()
    source = source or ManifestSource(objects)
    result = plan_item_blocks(source, BackupSpec(**spec), log, relations=relations)
    result.log = log
    return result


def block_names(result):
    """Blocks as lists of `resource ns/name` strings, the way the table output reads."""
    return [[str(item.key) for item in block.items] for block in result.blocks]


def excluded_names(result):
    return sorted(str(key) for key in result.excluded)


class ListSource:
    """A source over a given discovery table (for groups the built-in table does not serve)."""

    def __init__(self, table, objects):
        self.table = table
        self.objects = objects

    def resources(self):
        return self.table

    def _of(self, resource):
        return [
            o for o in self.objects if o["apiVersion"] == resource.api_version and o["kind"] == resource.kind
        ]

    def list(self, resource, namespace=None, label_selector=None):
        found = [
            o for o in self._of(resource) if namespace is None or o["metadata"].get("namespace") == namespace
        ]
        return iter(sorted(found, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"])))

    def get(self, resource, namespace, name):
        return next(
            (
                o
                for o in self._of(resource)
                if o["metadata"]["name"] == name and o["metadata"].get("namespace") == namespace
            ),
            None,
        )
