"""Load Kubernetes objects from YAML/JSON manifest files and folders."""

import json
import os

import yaml

_EXTENSIONS = (".yaml", ".yml", ".json")


def _expand(doc):
    if doc is None:
        return []
    if not isinstance(doc, dict):
        raise ValueError(f"manifest document is not a mapping: {doc!r:.80}")
    if doc.get("kind") == "List" or (doc.get("kind", "").endswith("List") and "items" in doc):
        out = []
        for item in doc.get("items") or []:
            out.extend(_expand(item))
        return out
    return [doc]


def load_file(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.endswith(".json"):
        try:
            return _expand(json.loads(text))
        except json.JSONDecodeError:
            pass
    out = []
    for doc in yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        out.extend(_expand(doc))
    return out


def load_manifests(paths):
    """Objects from files and folders (recursively, sorted, *.yaml/*.yml/*.json).

    Multi-document YAML and `kind: List` documents are expanded."""
    objects = []
    for path in paths:
        path = os.fspath(path)
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    if name.endswith(_EXTENSIONS):
                        objects.extend(load_file(os.path.join(root, name)))
        else:
            objects.extend(load_file(path))
    return objects
