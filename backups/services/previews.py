"""Previews: the ItemBlocks a backup would run, computed by an RQ job and read back page by page.

The job writes, under `DATA_DIR/previews/<token>/`:
- `request.json`: the cluster and the backup fields asked for;
- `status.json`: queued, running, done or failed (with the error);
- `blocks.jsonl`: one line per block, `{"items": [[key, reason, parent], ...], "hooks": [...]}`;
- `offsets.bin`: the byte offset of each line (8 bytes each), so any page is one seek away;
- `excluded.jsonl`, `excluded.offsets`: each item left out, `[key, why]`, and where its line starts;
- `summary.json`: counts, the largest blocks, the planning warnings, the types the filters leave
  out (never listed) and the dry run (items per type, what the run adds: `engine.dry_run`).
So a 300,000-object cluster is never loaded whole by a page. `expire_previews` (run by `run_cron`
every VELOWEB_GC_INTERVAL) removes previews older than VELOWEB_PREVIEW_TTL.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
import re
import secrets
import shutil
import struct
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import django_rq
from django.conf import settings
from django.utils import timezone

from backups.engine.dry_run import DryRun
from backups.engine.log import BackupLog
from backups.engine.planning.itemblocks import stream_item_blocks
from backups.engine.planning.spool import Spool, SpoolReader
from backups.engine.running.hook_spec import POST, PRE, hooks_for_pod, parse_resource_hooks
from backups.engine.source import SourceError
from backups.models import Backup, Cluster
from backups.runs.queues import DEFAULT_QUEUE

TOKEN = re.compile(r"^[0-9a-f]{32}$")
PREVIEW_STALE_FACTOR = 7  # a queued or running preview is kept 7 x the TTL: a week by default
LARGEST_SHOWN = 10
WARNINGS_KEPT = 100
REASONS_SHOWN = 20  # the most frequent reasons items were excluded, counted
EXCLUDED_PER_PAGE = 100
OFFSET = struct.Struct("<Q")


log = logging.getLogger(__name__)


class PreviewNotFound(LookupError):
    pass


def previews_dir() -> Path:
    return Path(settings.DATA_DIR) / "previews"


def folder(token: str) -> Path:
    if not TOKEN.match(token or ""):
        raise PreviewNotFound(token)
    path = previews_dir() / token
    if not path.is_dir():
        raise PreviewNotFound(token)
    return path


def _write_json(path: Path, data) -> None:
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def _read_json(path: Path):
    return json.loads(path.read_text())


def create_request(cluster: Cluster, fields: dict, prefix: str, user: str = "") -> str:
    """Record what to preview; returns the preview's token."""
    token = secrets.token_hex(16)
    path = previews_dir() / token
    path.mkdir(parents=True)
    request = {
        "cluster": cluster.pk,
        "prefix": prefix,
        "fields": fields,
        "user": user,
        "created": timezone.now().isoformat(),
    }
    _write_json(path / "request.json", request)
    _write_json(path / "status.json", {"state": "queued"})
    return token


def start_preview(cluster: Cluster, fields: dict, prefix: str, user: str = "") -> str:
    token = create_request(cluster, fields, prefix, user)
    django_rq.get_queue(DEFAULT_QUEUE).enqueue(run_preview, token, job_timeout=3600, result_ttl=0)
    return token


def run_preview(token: str) -> None:
    """The RQ job: plan the blocks against the live cluster and write them as described above."""
    path = folder(token)
    request = _read_json(path / "request.json")
    _write_json(path / "status.json", {"state": "running"})
    try:
        summary = _plan(path, request)
    except (ValueError, SourceError, OSError, Cluster.DoesNotExist) as error:
        _write_json(path / "status.json", {"state": "failed", "error": " ".join(str(error).split())})
        return
    finally:
        (path / "spool").unlink(missing_ok=True)
    _write_json(path / "summary.json", summary)
    _write_json(path / "status.json", {"state": "done"})


def _plan(path: Path, request: dict) -> dict:
    """Stream the plan into the files described above: blocks as the walk yields them, each
    excluded item as it is found (with why), the dry run's counts as they go."""
    from backups.runs.planning import policies_of
    from backups.validation import spec_of

    cluster = Cluster.objects.get(pk=request["cluster"])
    backup = Backup(name="preview", cluster=cluster, **request["fields"])
    source = cluster.connect()
    table = source.resources()
    spec = spec_of(backup)
    spec_hooks = parse_resource_hooks((backup.hooks or {}).get("resources"), table)
    dry_run = DryRun.start(source, table, backup.snapshot_volumes, policies_of(backup))
    pods_info = table.by_group_resource("pods")
    pv_info = table.by_group_resource("persistentvolumes")
    log = BackupLog()
    largest: list[tuple[int, int, str]] = []
    hook_count = blocks = 0
    reasons: Counter = Counter()
    with (
        Spool(str(path / "spool")) as spool,
        open(path / "blocks.jsonl", "wb") as out,
        open(path / "offsets.bin", "wb") as offsets,
        open(path / "excluded.jsonl", "wb") as excluded_out,
        open(path / "excluded.offsets", "wb") as excluded_offsets,
    ):

        def excluded(key, reason: str) -> None:
            excluded_offsets.write(OFFSET.pack(excluded_out.tell()))
            excluded_out.write(json.dumps([str(key), reason], separators=(",", ":")).encode() + b"\n")
            reasons[reason] += 1

        walk = stream_item_blocks(source, spec, log, spool=spool, hooks=spec_hooks, on_excluded=excluded)
        with SpoolReader(str(path / "spool")) as reader:
            for index, block in enumerate(walk):
                looked_at = [i for i in block.items if _looked_at(i.key) and i.offset >= 0]
                if looked_at:
                    spool.flush()  # a related item may have been spooled just now
                read = {id(i): reader.get(i.offset, i.length) for i in looked_at}
                objects = [(item.key, read.get(id(item))) for item in block.items]
                hooks = []
                for key, pod in objects:
                    if not key.is_pod:
                        continue
                    if pod is None and pods_info is not None:
                        pod = source.get(pods_info, key.namespace, key.name)
                    for phase in (PRE, POST):
                        for hook in hooks_for_pod(pod or {}, phase, spec_hooks)[0]:
                            hooks.append(
                                {
                                    "pod": f"{key.namespace}/{key.name}",
                                    "phase": phase,
                                    "container": hook.container or "",
                                    "command": list(hook.command),
                                    "on_error": hook.on_error,
                                    "source": hook.source,
                                }
                            )
                adds = dry_run.add_block(
                    objects, lambda name: source.get(pv_info, None, name) if pv_info else None
                )
                hook_count += len(hooks)
                line = {
                    "items": [[str(i.key), i.reason, i.parent] for i in block.items],
                    "hooks": hooks,
                    "adds": adds,
                }
                offsets.write(OFFSET.pack(out.tell()))
                out.write(json.dumps(line, separators=(",", ":")).encode() + b"\n")
                entry = (len(block), -index, str(block.items[0].key))
                if len(largest) < LARGEST_SHOWN:
                    heapq.heappush(largest, entry)
                else:
                    heapq.heappushpop(largest, entry)
                blocks += 1
    try:
        counted = dry_run.finish(source, table, spec)
    finally:
        source.close()
    problems = [e for e in log.entries if e.level in ("warning", "error")]
    return {
        "blocks": blocks,
        "items": dry_run.items,
        "excluded": sum(reasons.values()),
        "excluded_reasons": reasons.most_common(REASONS_SHOWN),
        "skipped_types": walk.c.skipped_types,
        "dry_run": counted,
        "hooks": hook_count,
        "errors": log.errors,
        "warnings": log.warnings,
        "messages": [f"{e.level}: {e.message}" for e in problems[:WARNINGS_KEPT]],
        "largest": [
            {"index": -i, "size": size, "first": first} for size, i, first in sorted(largest, reverse=True)
        ],
    }


def _looked_at(key) -> bool:
    """The items whose content the preview reads: pods (their hooks), claims and volumes (snapshots)."""
    return key.is_pod or key.is_claim or key.group_resource == "persistentvolumes"


def read_request(token: str) -> dict:
    return _read_json(folder(token) / "request.json")


def read_status(token: str) -> dict:
    return _read_json(folder(token) / "status.json")


def read_summary(token: str) -> dict:
    return _read_json(folder(token) / "summary.json")


def _block_at(f, offsets, index: int) -> dict:
    offsets.seek(index * OFFSET.size)
    raw = offsets.read(OFFSET.size)
    if len(raw) != OFFSET.size:
        raise IndexError(index)
    f.seek(OFFSET.unpack(raw)[0])
    return _with_index(json.loads(f.readline()), index)


def _with_index(block: dict, index: int) -> dict:
    block["index"] = index
    block["size"] = len(block["items"])
    block["first"] = block["items"][0][0] if block["items"] else ""
    return block


def read_blocks(token: str, start: int, count: int) -> list[dict]:
    """Blocks `start` .. `start + count - 1` (0-based), fewer at the end (none past it)."""
    path = folder(token)
    blocks = []
    with open(path / "blocks.jsonl", "rb") as f, open(path / "offsets.bin", "rb") as offsets:
        total = os.fstat(offsets.fileno()).st_size // OFFSET.size
        for index in range(max(0, start), min(start + count, total)):
            try:
                blocks.append(_block_at(f, offsets, index))
            except IndexError:
                break
    return blocks


def read_excluded(token: str, start: int, count: int) -> list[dict]:
    """Excluded items `start` .. `start + count - 1` in the order found, each with why; one seek
    away like the blocks, so a page of 300,000 excluded objects reads 100 lines."""
    path = folder(token)
    found = []
    try:
        f = open(path / "excluded.jsonl", "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:  # a preview made before excluded items were kept
        return found
    with f, open(path / "excluded.offsets", "rb") as offsets:
        total = os.fstat(offsets.fileno()).st_size // OFFSET.size
        if start >= total or count <= 0:
            return found
        offsets.seek(max(0, start) * OFFSET.size)
        first = OFFSET.unpack(offsets.read(OFFSET.size))[0]
        f.seek(first)
        for position in range(max(0, start), min(start + count, total)):
            key, reason = json.loads(f.readline())
            found.append({"position": position, "key": key, "reason": reason})
    return found


def read_block(token: str, index: int) -> dict:
    blocks = read_blocks(token, index, 1) if index >= 0 else []
    if not blocks:
        raise PreviewNotFound(f"{token} block {index}")
    return blocks[0]


def find_items(token: str, query: str, limit: int = 50) -> list[dict]:
    """Items whose key contains `query` (case-insensitive), with their block, in dispatch order."""
    needle = query.strip().lower()
    found = []
    if not needle:
        return found
    with open(folder(token) / "blocks.jsonl", "rb") as f:
        for index, line in enumerate(f):
            if needle.encode() not in line.lower():
                continue
            block = json.loads(line)
            for key, reason, _parent in block["items"]:
                if needle in key.lower():
                    found.append({"block": index, "key": key, "reason": reason, "size": len(block["items"])})
                    if len(found) >= limit:
                        return found
    return found


def block_graph(block: dict) -> dict:
    """Cytoscape elements: one node per item, one edge per parent → item labelled with the reason."""
    nodes, edges = [], []
    for position, (key, reason, parent) in enumerate(block["items"]):
        resource, _, where = key.partition(" ")
        nodes.append(
            {"data": {"id": f"n{position}", "label": f"{resource}\n{where}", "root": parent is None}}
        )
        if parent is not None:
            edges.append(
                {
                    "data": {
                        "id": f"e{position}",
                        "source": f"n{parent}",
                        "target": f"n{position}",
                        "label": reason,
                    }
                }
            )
    return {"nodes": nodes, "edges": edges}


def remove(token: str) -> None:
    shutil.rmtree(folder(token), ignore_errors=True)


def expire_previews(now: datetime | None = None) -> dict:
    """Remove every preview asked for more than VELOWEB_PREVIEW_TTL ago; one still queued or
    running only once PREVIEW_STALE_FACTOR times as old, as its job has long been killed by then
    (an hour's timeout). Returns {"removed": [tokens], "kept": n} (the RQ job's result).

    A preview's age is its request's `created` time, else (an unreadable request) its folder's.
    Folders that are not previews (no token name) are left alone."""
    now = now or timezone.now()
    ttl = timedelta(seconds=settings.VELOWEB_PREVIEW_TTL)
    removed, kept = [], 0
    try:
        entries = sorted(os.scandir(previews_dir()), key=lambda e: e.name)
    except FileNotFoundError:
        return {"removed": removed, "kept": kept}
    for entry in entries:
        if not TOKEN.match(entry.name) or not entry.is_dir(follow_symlinks=False):
            continue
        path = Path(entry.path)
        state = _state(path)
        limit = ttl * PREVIEW_STALE_FACTOR if state in ("queued", "running") else ttl
        try:
            age = now - _created(path)
        except OSError:  # removed meanwhile (another run of this job)
            continue
        if age <= limit:
            kept += 1
            continue
        shutil.rmtree(path, ignore_errors=True)
        if path.exists():
            log.warning("expired preview %s could not be removed", entry.name)
            kept += 1
            continue
        removed.append(entry.name)
        log.info("expired preview %s removed (%s)", entry.name, state)
    return {"removed": removed, "kept": kept}


def _state(path: Path) -> str:
    try:
        return str(_read_json(path / "status.json").get("state"))
    except (OSError, ValueError, AttributeError):
        return "unknown"


def _created(path: Path) -> datetime:
    try:
        created = datetime.fromisoformat(_read_json(path / "request.json")["created"])
        if created.tzinfo is not None:
            return created
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
