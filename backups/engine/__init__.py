"""Veloweb's backup engine: plain Python, no Django, readable next to the Velero spec."""
