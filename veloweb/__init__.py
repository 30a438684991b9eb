"""Veloweb project package: settings, ASGI entry point and process helpers."""
