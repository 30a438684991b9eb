"""Building ItemBlocks from the collected list, as Velero's backup.go does (spec part 2 (a)).

The walk visits the collected list in order. An item not yet claimed starts (or extends) a
block; each relation that applies to it names related items, which join the same block
depth-first, pre-order. The first block to reach an item owns it. Ordered resources of one
type stay in one block. Everything is linear in the number of items: relations read
per-namespace lists that are built once.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from backups.engine.items import BlockItem, BlockPlan, ItemBlock, ItemKey
from backups.engine.log import BackupLog
from backups.engine.running.hook_spec import ResourceHook
from backups.engine.source import Source, SourceError

from .collect import Collection, Collector, WatchCache, object_exclusion, relation_applies
from .filters import NAMESPACES
from .relations import Related, Relation, default_relations
from .spec import BackupSpec, SpecError, spec_errors
from .spool import Spool


def plan_item_blocks(
    source: Source,
    spec: BackupSpec,
    log: BackupLog | None = None,
    relations: list[Relation] | None = None,
    spool: Spool | None = None,
    hooks: list[ResourceHook] | None = None,
) -> BlockPlan:
    """Collect the items `spec` selects from `source` and group them into blocks in dispatch order.

    Raises SpecError (a ValueError) for a spec Velero's controller refuses (`spec_errors`), and
    records per-resource API failures in `log` without stopping. With a `spool`, every object is
    written there once and each BlockItem carries its location. `hooks`: as `stream_item_blocks`.
    """
    return stream_item_blocks(source, spec, log, relations, spool, hooks).run()


def stream_item_blocks(
    source: Source,
    spec: BackupSpec,
    log: BackupLog | None = None,
    relations: list[Relation] | None = None,
    spool: Spool | None = None,
    hooks: list[ResourceHook] | None = None,
    on_excluded: Callable[[ItemKey, str], None] | None = None,
) -> BlockWalk:
    """Like `plan_item_blocks`, but the blocks are yielded one by one in dispatch order, so a
    dispatcher can write them out without holding 300,000 items' blocks in memory. Collection
    happens here (errors surface now); `excluded` is complete once the walk is exhausted. With
    `hooks` (the backup's parsed spec hooks), pods are checked for hooks as they are collected,
    so `BlockWalk.has_hooks` can tell the dispatcher which blocks wait on them.

    With `on_excluded(key, reason)` (the preview's "why excluded"), every item left out is told
    there as found instead of kept in `excluded`, including the objects a label selector leaves
    out (then listed unfiltered and matched here, to name them); the types the filters leave out
    without listing them are `collection.skipped_types`."""
    log = log if log is not None else BackupLog()
    relations = default_relations() if relations is None else relations
    errors = spec_errors(spec)
    if errors:  # what Velero's controller refuses before the backup runs
        raise SpecError("; ".join(message for _, message in errors))
    with gc_paused():
        watch = WatchCache(source, source.resources(), spec.volume_group_label_key)
        collector = Collector(source, spec, relations, log, spool, hooks, on_excluded=on_excluded)
        collection = collector.collect(watch)
    return BlockWalk(source, collection, relations, watch, log, spool)


@contextmanager
def gc_paused():
    """Building blocks allocates hundreds of thousands of small acyclic objects; Python's cyclic
    collector would rescan the growing heap again and again (3x slower at 300k items)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class BlockWalk:
    def __init__(
        self,
        source: Source,
        collection: Collection,
        relations: list[Relation],
        watch: WatchCache,
        log: BackupLog,
        spool: Spool | None = None,
    ):
        self.source = source
        self.spool = spool
        self.c = collection
        self.relations = relations
        self.watch = watch
        self.log = log
        self.index = {key: i for i, key in enumerate(collection.keys)}
        self.claimed = bytearray(len(collection.keys))
        self.fetched: set[ItemKey] = set()
        self.excluded: list[ItemKey] = []
        self.excluded_reasons: list[str] = []
        # set: excluded items go there as found (a preview streams them to a file) instead of the lists
        self.on_excluded: Callable[[ItemKey, str], None] | None = collection.on_excluded
        self.excluded_count = 0
        self._ns_ok: dict[str, bool] = {}
        self._gr_ok: dict[tuple[str, bool], bool] = {}

    def has_hooks(self, block: ItemBlock) -> bool:
        """Whether a pod of the block runs a hook (known when the walk was given the hooks)."""
        hooked = self.c.hooked_pods
        return bool(hooked) and any(item.key in hooked for item in block.items)

    def run(self) -> BlockPlan:
        """Every block at once, with the excluded items (small clusters, previews, tests)."""
        blocks = list(self)
        return BlockPlan(blocks, self.excluded, self.excluded_reasons)

    def __iter__(self) -> Iterator[ItemBlock]:
        with gc_paused():
            yield from self._walk()

    def _walk(self) -> Iterator[ItemBlock]:
        keys, ordered, claimed = self.c.keys, self.c.ordered, self.claimed
        block = ItemBlock()
        last = len(keys) - 1
        for i, key in enumerate(keys):
            if not claimed[i]:
                claimed[i] = 1
                reason = self.c.blocked.get(i) or self._filter_reason(key)
                if reason:
                    self._exclude(key, reason)
                else:
                    block.items.append(self._item(key, "", None, i))
                    self._expand(block, len(block.items) - 1, key, self.c.facts.get(i, ()))
            keep_open = (
                i < last
                and i in ordered
                and i + 1 in ordered
                and keys[i + 1].group_resource == key.group_resource
            )
            if block.items and not keep_open:
                yield block
                block = ItemBlock()

    def _exclude(self, key: ItemKey, reason: str) -> None:
        self.excluded_count += 1
        if self.on_excluded is not None:
            self.on_excluded(key, reason)
            return
        self.excluded.append(key)
        self.excluded_reasons.append(reason)

    def _filter_reason(self, key: ItemKey) -> str:
        """Velero's itemInclusionChecks, less the object-level ones computed at collection."""
        ns, gr = key.namespace, key.group_resource
        if ns:
            ok = self._ns_ok.get(ns)
            if ok is None:
                ok = self._ns_ok[ns] = self.c.namespaces.should_include(ns)
            if not ok:
                return self.c.namespaces.why_excluded(ns)
        cached = self._gr_ok.get((gr, bool(ns)))
        if cached is None:
            if ns:
                cached = self.c.resources.should_include(gr)
            else:
                cached = gr == NAMESPACES or not self.c.resources.should_exclude(gr)
            self._gr_ok[(gr, bool(ns))] = cached
        if not cached:
            return f"resource {gr}: {self.c.resources.why_excluded(gr)}"
        return ""

    def _related(self, key: ItemKey, facts: tuple[tuple[Relation, Any], ...]) -> list[Related]:
        found: list[Related] = []
        for relation, summary in facts:
            try:
                found.extend(relation.related(key.namespace, key.name, summary, self.watch))
            except SourceError as error:
                self.log.error(
                    f"relation {relation.name} failed: {error}",
                    resource=key.group_resource,
                    namespace=key.namespace,
                    name=key.name,
                )
        return found

    def _expand(self, block: ItemBlock, position: int, key: ItemKey, facts) -> None:
        """Depth-first, pre-order: a related item's own relations come before its next sibling."""
        if not facts:
            return
        stack: list[tuple[int, Iterator[Related]]] = [(position, iter(self._related(key, facts)))]
        while stack:
            parent, pending = stack[-1]
            ref = next(pending, None)
            if ref is None:
                stack.pop()
                continue
            joined = self._join(block, parent, ref)
            if joined is not None:
                child_key, child_facts = joined
                if child_facts:
                    stack.append((len(block.items) - 1, iter(self._related(child_key, child_facts))))

    def _join(self, block: ItemBlock, parent: int, ref: Related):
        info = self.c.table.by_group_resource(ref.group_resource)
        if info is None:
            self.log.error(
                f"unable to find resource {ref.group_resource} in discovery for related item",
                resource=ref.group_resource,
                namespace=ref.namespace,
                name=ref.name,
            )
            return None
        key = ItemKey(
            info.group, info.version, info.resource, ref.namespace if info.namespaced else "", ref.name
        )
        i = self.index.get(key)
        location: int | tuple[int, int] | None  # a collected index, or where the spool holds it
        if i is not None:
            if self.claimed[i]:
                return None
            self.claimed[i] = 1
            reason = self.c.blocked.get(i) or self._filter_reason(key)
            facts = self.c.facts.get(i, ())
            location = i
        else:
            if key in self.fetched:
                return None
            self.fetched.add(key)
            try:
                obj = self.source.get(info, key.namespace or None, key.name)
            except SourceError as error:
                self.log.error(
                    f"error getting related item: {error.message}",
                    resource=key.group_resource,
                    namespace=key.namespace,
                    name=key.name,
                )
                return None
            if obj is None:
                self.log.warning(
                    "related item was not found in the cluster, not added to the block",
                    resource=key.group_resource,
                    namespace=key.namespace,
                    name=key.name,
                )
                return None
            reason = object_exclusion(obj) or self._filter_reason(key)
            location = self.spool.put(obj) if self.spool is not None and not reason else None
            meta = obj.get("metadata") or {}
            facts = tuple(
                (r, r.summarize(obj))
                for r in self.relations
                if key.group_resource in r.applies_to and relation_applies(r, key.namespace, meta)
            )
        if reason:
            self._exclude(key, reason)
            return None
        block.items.append(self._item(key, ref.reason, parent, location))
        return key, facts

    def _item(self, key: ItemKey, reason: str, parent: int | None, location) -> BlockItem:
        """A block item; `location` is a collected index or a (offset, length) spool location."""
        if self.spool is None or location is None:
            return BlockItem(key, reason, parent)
        if isinstance(location, int):
            return BlockItem(key, reason, parent, self.c.offsets[location], self.c.lengths[location])
        return BlockItem(key, reason, parent, *location)
