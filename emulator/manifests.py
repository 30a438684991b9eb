"""Load Kubernetes objects from YAML/JSON manifest files and folders (the engine reads them)."""

from backups.engine.manifests.reader import ManifestError, read_objects, served_objects

__all__ = ["ManifestError", "load_manifests"]


def load_manifests(paths, warn=None):
    """Objects from files and folders (recursively, sorted, *.yaml/*.yml/*.json).

    Multi-document YAML and `List`/`*List` documents are expanded; bad input raises ManifestError
    (a ValueError) naming the file. An object the API server would refuse, or whose apiVersion and
    kind nothing serves, is skipped with a call to `warn` (default: logged). See
    `backups.engine.manifests.reader.read_objects`."""
    return served_objects(read_objects(paths, warn=warn), warn)
