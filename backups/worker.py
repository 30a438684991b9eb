"""The RQ worker class for Veloweb's queues (settings.RQ["WORKER_CLASS"])."""

from __future__ import annotations

import gc

from rq.worker import Worker


class BackupWorker(Worker):
    """RQ's forking worker, with the parent's objects frozen out of the garbage collector for
    the fork.

    A work horse's first collection would otherwise walk every object it inherited (Django, the
    Kubernetes client: about 100 MB) and, by writing their GC headers, copy each of those pages
    out of the shared copy-on-write memory. `gc.freeze` is CPython's switch for this case; the
    parent unfreezes at once, so its own garbage is still collected.
    """

    def fork_work_horse(self, job, queue):
        gc.freeze()
        try:
            super().fork_work_horse(job, queue)
        finally:
            gc.unfreeze()  # only the parent gets here: the horse leaves through os._exit
