"""Load Kubernetes objects from YAML/JSON manifest files and folders (the engine reads them)."""

from backups.engine.manifests import ManifestError, read_objects

__all__ = ["ManifestError", "load_manifests"]


def load_manifests(paths):
    """Objects from files and folders (recursively, sorted, *.yaml/*.yml/*.json).

    Multi-document YAML and `List`/`*List` documents are expanded; bad input raises ManifestError
    (a ValueError) naming the file. See `backups.engine.manifests.read_objects`."""
    return list(read_objects(paths))
