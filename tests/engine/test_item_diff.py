"""Diffs between backups (a merge of two sorted indexes) and inside one item; Secret redaction."""

from __future__ import annotations

import random

from backups.engine.item_diff import (
    ADDED,
    CHANGED,
    REDACTED,
    REMOVED,
    diff_index_lines,
    diff_indexes,
    field_changes,
    redact,
    redact_changes,
)
from backups.engine.velero_format.tarball_index import IndexEntry


def entry(gr, ns, name, digest="a" * 16) -> IndexEntry:
    return IndexEntry(gr, ns, name, "v1", 0, 10, 0, 5, digest)


def test_merge_of_two_indexes_finds_added_removed_changed_in_key_order():
    old = [entry("configmaps", "shop", "a"), entry("configmaps", "shop", "b"), entry("secrets", "shop", "s")]
    new = [
        entry("configmaps", "shop", "b", digest="b" * 16),
        entry("configmaps", "shop", "c"),
        entry("secrets", "shop", "s"),
    ]
    changes = list(diff_indexes(old, new))
    assert [(c.status, c.entry.name) for c in changes] == [(REMOVED, "a"), (CHANGED, "b"), (ADDED, "c")]
    assert list(diff_indexes([], [])) == []
    assert [c.status for c in diff_indexes(old, [])] == [REMOVED] * 3
    assert [c.status for c in diff_indexes([], new)] == [ADDED] * 3


def test_merge_matches_a_set_comparison_on_random_indexes():
    rng = random.Random(7)
    keys = sorted(
        {(rng.choice(["configmaps", "pods"]), f"ns{rng.randint(0, 5)}", f"n{i}") for i in range(2000)}
    )
    old = {k: str(rng.randint(0, 3)) * 16 for k in keys if rng.random() < 0.8}
    new = {k: str(rng.randint(0, 3)) * 16 for k in keys if rng.random() < 0.8}
    changes = list(
        diff_indexes(
            (entry(*k, digest=d) for k, d in sorted(old.items())),
            (entry(*k, digest=d) for k, d in sorted(new.items())),
        )
    )
    expected = {k: REMOVED for k in old.keys() - new.keys()}
    expected |= {k: ADDED for k in new.keys() - old.keys()}
    expected |= {k: CHANGED for k in old.keys() & new.keys() if old[k] != new[k]}
    assert {c.entry.key: c.status for c in changes} == expected
    assert [c.entry.key for c in changes] == sorted(expected)


def test_field_changes_name_each_leaf():
    old = {
        "metadata": {"name": "web", "labels": {"app": "web", "tier": "a"}, "resourceVersion": "1"},
        "spec": {"replicas": 2, "containers": [{"image": "web:1"}, {"image": "side:1"}]},
    }
    new = {
        "metadata": {"name": "web", "labels": {"app": "web", "team": "x"}, "resourceVersion": "9"},
        "spec": {"replicas": "2", "containers": [{"image": "web:2"}]},
    }
    changes = field_changes(old, new, ignore=["metadata.resourceVersion"])
    assert [(c.path, c.status, c.old, c.new) for c in changes] == [
        ("metadata.labels.team", ADDED, None, "x"),
        ("metadata.labels.tier", REMOVED, "a", None),
        ("spec.containers[0].image", CHANGED, "web:1", "web:2"),
        ("spec.containers[1]", REMOVED, {"image": "side:1"}, None),
        ("spec.replicas", CHANGED, 2, "2"),  # a type change is a change
    ]
    assert field_changes(old, old) == []


def test_secrets_are_redacted_keys_kept():
    secret = {
        "kind": "Secret",
        "metadata": {"name": "db", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "pw"}},
        "data": {"password": "c2VjcmV0"},
        "stringData": {"token": "plain"},
    }
    shown = redact("secrets", secret)
    assert shown["data"] == {"password": REDACTED} and shown["stringData"] == {"token": REDACTED}
    assert shown["metadata"]["annotations"] == {"kubectl.kubernetes.io/last-applied-configuration": REDACTED}
    assert secret["data"] == {"password": "c2VjcmV0"}  # the original is untouched
    assert redact("configmaps", {"data": {"a": "1"}}) == {"data": {"a": "1"}}
    changed = {**secret, "data": {"password": "b3RoZXI=", "user": "YQ=="}}
    changes = redact_changes("secrets", field_changes(secret, changed))
    assert [(c.path, c.old, c.new) for c in changes] == [
        ("data.password", REDACTED, REDACTED),
        ("data.user", None, REDACTED),
    ]
    assert "c2VjcmV0" not in repr(changes) and "b3RoZXI=" not in repr(changes)


def test_the_diff_of_raw_index_lines_is_the_diff_of_entries():
    rng = random.Random(3)
    keys = sorted({("configmaps", f"ns{rng.randint(0, 3)}", f"n{i}") for i in range(500)})
    old = [entry(*k, digest=str(rng.randint(0, 2)) * 16) for k in keys if rng.random() < 0.8]
    new = [entry(*k, digest=str(rng.randint(0, 2)) * 16) for k in keys if rng.random() < 0.8]
    as_lines = lambda entries: [(e.line() + "\n").encode() for e in entries]  # noqa: E731
    raw = list(diff_index_lines(as_lines(old), as_lines(new)))
    assert raw == list(diff_indexes(old, new)) and raw
