"""Manifests as a cluster: YAML/JSON files read as Kubernetes would, with a bundled discovery table."""
