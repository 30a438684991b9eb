"""Velero's backup format: the archive, the object-store layout, volume info."""
