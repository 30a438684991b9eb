import json

from hypothesis import given, settings
from hypothesis import strategies as st

from backups.engine.planning.label_selectors import parse_selector
from emulator import KubeEmulator
from emulator.store import Store, decode_continue, encode_continue

NAMES = st.text("abcdefghij-.0123", min_size=1, max_size=6).filter(
    lambda s: s[0].isalnum() and s[-1].isalnum()
)


def _cm(ns, name):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}}


@settings(max_examples=60, deadline=None)
@given(
    keys=st.sets(st.tuples(st.sampled_from(["a", "b", "kube-system"]), NAMES), max_size=60),
    limit=st.integers(1, 25),
    churn=st.lists(st.tuples(st.booleans(), st.sampled_from(["a", "b"]), NAMES), max_size=10),
)
def test_paging_returns_each_object_once_in_order(keys, limit, churn):
    store = Store()
    store.add_many([_cm(ns, n) for ns, n in keys])
    store_cm = store.stores[("", "configmaps")]
    seen, start, pages = [], None, 0
    initial = sorted(keys)
    while True:
        entries, last, remaining = store_cm.page(None, start, limit)
        seen += [(e.obj["metadata"]["namespace"], e.obj["metadata"]["name"]) for e in entries]
        pages += 1
        if not remaining:
            break
        _rv, start = decode_continue(encode_continue(1, last))
        if churn:  # objects added/removed between pages must not cause duplicates or reordering
            add, ns, name = churn.pop()
            if add:
                store.add(_cm(ns, name))
            else:
                store.delete(store.resources[("", "configmaps")], ns, name)
    assert seen == sorted(set(seen))
    if pages == 1:
        assert seen == initial


@settings(max_examples=200, deadline=None)
@given(
    labels=st.dictionaries(
        st.sampled_from(["app", "tier", "x"]), st.sampled_from(["a", "b", ""]), max_size=3
    ),
    key=st.sampled_from(["app", "tier", "x"]),
    values=st.sets(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3),
)
def test_selector_semantics(labels, key, values):
    vals = ",".join(sorted(values))
    present = key in labels
    assert parse_selector(key).matches(labels) == present
    assert parse_selector(f"!{key}").matches(labels) == (not present)
    assert parse_selector(f"{key} in ({vals})").matches(labels) == (present and labels[key] in values)
    assert parse_selector(f"{key} notin ({vals})").matches(labels) == (
        not present or labels[key] not in values
    )
    v = sorted(values)[0]
    assert parse_selector(f"{key}={v}").matches(labels) == (labels.get(key) == v)
    assert parse_selector(f"{key}!={v}").matches(labels) == (labels.get(key) != v)


def test_from_manifests_lists_json_and_late_crds(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "items.json").write_text(
        json.dumps({"apiVersion": "v1", "kind": "List", "items": [_cm("x", "from-json")]})
    )
    (tmp_path / "a.yaml").write_text(
        "apiVersion: example.com/v1\nkind: Thing\nmetadata: {name: t1}\n---\n"
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\n"
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        "metadata: {name: things.example.com}\n"
        "spec: {group: example.com, scope: Namespaced,\n"
        "       names: {plural: things, singular: thing, kind: Thing},\n"
        "       versions: [{name: v1, served: true, storage: true}]}\n"
    )
    emu = KubeEmulator.from_manifests([tmp_path])
    thing = emu.get("things.example.com", "default", "t1")
    assert thing["metadata"]["namespace"] == "default" and thing["metadata"]["uid"]
    assert thing["metadata"]["resourceVersion"] and thing["metadata"]["creationTimestamp"]
    assert emu.get("configmaps", "x", "from-json") is not None
    assert emu.get("namespaces", None, "x")["metadata"].get("namespace") is None
