"""Reading a live cluster for the backup engine: discovery, paginated lists, get, exec.

Plain Python (no Django). `connect()` gives a KubeSource implementing backups.engine.source.Source.
"""

from backups.engine.source import SourceError

from .errors import KubeConfigError
from .execution import ExecResult
from .source import KubeSource, connect

__all__ = ["ExecResult", "KubeConfigError", "KubeSource", "SourceError", "connect"]
