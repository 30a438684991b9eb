"""Veloweb's backups app: clusters, backups and the dashboard."""
