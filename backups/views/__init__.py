"""Dashboard views, one module per page family; each view reads one selector or calls one service."""
