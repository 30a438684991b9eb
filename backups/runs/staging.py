"""A backup's staging folder: the collection spool, the plan split into batches, and block members.

Everything a block job needs is a file here, so jobs carry only (backup id, batch number) and any
worker with the shared staging folder can run any batch, including one whose first worker died.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from backups.engine.items import BlockItem, ItemBlock, ItemKey
from backups.engine.planning.resources import ResourceInfo, ResourceTable
from backups.engine.velero_format.archive import block_member_path


class UnsafePath(ValueError):
    """A path that would leave the folder it must stay in; nothing is read, written or removed."""


def child_of(root: str | Path, name: str) -> Path:
    """`root/name`, for one plain folder name that stays inside `root` once links are resolved:
    every staging path is built by this, so no stored value can make a removal leave its root."""
    base = Path(root).resolve()
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise UnsafePath(f"{name!r} is not a plain folder name under {base}")
    path = base / name
    if path.resolve().parent != base:
        raise UnsafePath(f"{path} resolves outside {base}")
    return path


@dataclass(frozen=True)
class Staging:
    root: Path

    @classmethod
    def of(cls, backup) -> Staging:
        return cls(child_of(settings.VELOWEB_STAGING_DIR, f"{backup.name}-{backup.pk}"))

    @classmethod
    def of_restore(cls, restore) -> Staging:
        """A restore's folder: the backup's tarball, the spool of its planned items, batch files."""
        return cls(child_of(settings.VELOWEB_STAGING_DIR, f"restore-{restore.name}-{restore.pk}"))

    @property
    def spool(self) -> str:
        return str(self.root / "spool.jsonl")

    @property
    def members(self) -> str:
        return str(self.root / "members")

    def member(self, batch_number: int) -> str:
        """The archive member of one batch (its blocks' entries, in block order)."""
        return block_member_path(self.members, batch_number)

    def batch_file(self, number: int) -> Path:
        return self.root / "batches" / f"{number:07d}.json"

    def log_file(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.jsonl"

    def reset(self) -> None:
        """Start over: a re-dispatched backup plans again from nothing."""
        shutil.rmtree(self.root, ignore_errors=True)
        for sub in ("batches", "members", "logs"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def remove(self) -> None:
        """Remove the folder, checked again against its root: it may have become a link since."""
        child_of(self.root.parent, self.root.name)
        if self.root.is_symlink():
            raise UnsafePath(f"{self.root} is a symbolic link: not removed")
        shutil.rmtree(self.root, ignore_errors=True)

    def write_batch(self, number: int, first_block: int, blocks: list[ItemBlock]) -> None:
        rows = [[[*item.key, item.offset, item.length] for item in block.items] for block in blocks]
        _write_json(self.batch_file(number), {"first_block": first_block, "blocks": rows})

    def read_batch(self, number: int) -> tuple[int, list[list[BlockItem]]]:
        data = json.loads(self.batch_file(number).read_text())
        blocks = [
            [BlockItem(ItemKey(*row[:5]), offset=row[5], length=row[6]) for row in block]
            for block in data["blocks"]
        ]
        return data["first_block"], blocks

    def write_tiers(self, tiers: list[dict]) -> None:
        """A restore's tiers: label, item count, first batch and batch count, CRDs created."""
        _write_json(self.root / "tiers.json", tiers)

    def read_tiers(self) -> list[dict]:
        return json.loads((self.root / "tiers.json").read_text())

    def write_restore_batch(self, number: int, tier: int, items: list[dict]) -> None:
        """A restore batch: its tier and its items (`key`, `target_namespace`, spool `at`, ...)."""
        _write_json(self.batch_file(number), {"tier": tier, "items": items})

    def read_restore_batch(self, number: int) -> tuple[int, list[dict]]:
        data = json.loads(self.batch_file(number).read_text())
        return data["tier"], data["items"]

    def write_part(self, name: str, doc: dict) -> None:
        """What one step of a restore found (a batch's results and pods' hooks, the wait for
        CRDs...), rewritten whole by a retry; finalize merges every part."""
        (self.root / "parts").mkdir(exist_ok=True)
        _write_json(self.root / "parts" / f"{name}.json", doc)

    def read_parts(self):
        """(name, doc) of every part, in name order."""
        for path in sorted((self.root / "parts").glob("*.json")):
            yield path.stem, json.loads(path.read_text())

    def outcome_file(self, number: int) -> Path:
        """What a finished batch leaves for finalize: its items written (key, kind, added by the
        block itself), the VolumeSnapshotClasses its snapshots used and their volume info entries."""
        return self.root / "batches" / f"{number:07d}.outcome.json"

    def write_outcome(
        self, number: int, written: list, classes: dict, infos: list, seconds: dict | None = None
    ) -> None:
        """`seconds`: time the batch spent per stage (`snapshots`), summed by finalize's timings."""
        outcome = {"written": written, "snapshot_classes": classes, "volume_infos": infos}
        if seconds:
            outcome["seconds"] = seconds
        self.outcome_file(number).write_text(json.dumps(outcome, separators=(",", ":")))

    def write_table(self, table: ResourceTable) -> None:
        """Discovery as the dispatcher saw it, so batch jobs don't ask the API server again."""
        _write_json(self.root / "discovery.json", [dataclasses.asdict(r) for r in table])

    def read_table(self) -> ResourceTable:
        rows = json.loads((self.root / "discovery.json").read_text())
        return ResourceTable(
            [
                ResourceInfo(**{**r, "short_names": tuple(r["short_names"]), "verbs": tuple(r["verbs"])})
                for r in rows
            ]
        )

    def write_log(self, name: str, entries) -> None:
        """A job's log lines, rewritten whole on a retry so nothing is logged twice."""
        path = self.log_file(name)
        if not entries:  # most batches log nothing: no file (and none left from an earlier try)
            path.unlink(missing_ok=True)
            return
        tmp = path.with_suffix(".partial")
        with open(tmp, "w", encoding="utf-8") as out:
            for entry in entries:
                out.write(json.dumps(entry.as_dict(), separators=(",", ":")) + "\n")
        os.replace(tmp, path)

    def log_files(self) -> list[Path]:
        """Dispatch log first, then batches in order, then finalize."""
        logs = self.root / "logs"
        ordered = sorted(p for p in logs.glob("batch-*.jsonl")) + sorted(logs.glob("tier-*.jsonl"))
        return (
            [p for p in (logs / "dispatch.jsonl",) if p.exists()]
            + ordered
            + [p for p in (logs / "finalize.jsonl",) if p.exists()]
        )


def _write_json(path: Path, data) -> None:
    tmp = path.with_suffix(".partial")
    tmp.write_text(json.dumps(data, separators=(",", ":")))
    os.replace(tmp, path)
