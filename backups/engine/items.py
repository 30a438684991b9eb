"""Item keys and ItemBlocks: the compact shapes the engine keeps in memory for 300,000 objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


class ItemKey(NamedTuple):
    """Identifies one object at one API version. `group` is "" for core, `namespace` "" for cluster scope."""

    group: str
    version: str
    resource: str
    namespace: str
    name: str

    @property
    def group_resource(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource

    @property
    def is_pod(self) -> bool:
        """A core pod (hooks run in it), not a custom `pods` resource of some other group."""
        return self.resource == "pods" and not self.group

    @property
    def is_claim(self) -> bool:
        """A core PersistentVolumeClaim (CSI snapshots are taken of it)."""
        return self.resource == "persistentvolumeclaims" and not self.group

    def as_dict(self) -> dict:
        return self._asdict()

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.group_resource} {where}"


class BlockItem(NamedTuple):
    """An item in a block, with why it joined: `parent` is the index of the item that pulled it in."""

    key: ItemKey
    reason: str = ""  # "" for an item taken from the collected list; else the relation's reason
    parent: int | None = None
    offset: int = -1  # where the object sits in the collection spool, when spooled
    length: int = 0


@dataclass
class ItemBlock:
    """Items backed up together by one worker, bracketed by their pods' hooks."""

    items: list[BlockItem] = field(default_factory=list)

    def keys(self) -> list[ItemKey]:
        return [item.key for item in self.items]

    def __len__(self) -> int:
        return len(self.items)


@dataclass
class BlockPlan:
    """Every block in dispatch order, plus the items that were considered and excluded."""

    blocks: list[ItemBlock]
    excluded: list[ItemKey]
    excluded_reasons: list[str] = field(default_factory=list)  # parallel to `excluded`

    @property
    def item_count(self) -> int:
        return sum(len(b) for b in self.blocks)

    def as_dict(self) -> dict:
        return {
            "blocks": [{"items": [i.key.as_dict() for i in b.items]} for b in self.blocks],
            "excluded": [k.as_dict() for k in self.excluded],
        }
