"""Where a study's runs and a search's cells execute: a Dask client on a LocalCluster of
single-threaded worker processes on this machine, or on an existing scheduler
(``dask scheduler`` on one machine, ``dask worker tcp://HOST:8786 --nthreads 1`` on the
others). Dask schedules, retries a task whose worker died, and shows its dashboard; nothing
here is a hand-written pool.
"""

from __future__ import annotations

import contextlib
import logging
import sys


@contextlib.contextmanager
def dask_client(jobs: int, scheduler: str | None, retries: int):
    """A Dask client: on an existing scheduler (``tcp://HOST:8786``) or on a LocalCluster of
    ``jobs`` single-threaded worker processes on 127.0.0.1. A task whose worker dies is
    rerun on another, at most ``retries`` times (the scheduler's ``allowed-failures``: for
    an existing scheduler, its own setting, as is its ``worker-saturation``: start it with
    ``DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION=1.0``). Workers must not be daemonic
    (each run is a child process of its worker): LocalCluster's are not; start
    ``dask worker`` with ``DASK_DISTRIBUTED__WORKER__DAEMON=False``."""
    import dask
    from distributed import Client, LocalCluster

    settings = {"distributed.worker.daemon": False, "distributed.scheduler.allowed-failures": retries,
                # the nanny would start workers with MALLOC_TRIM_THRESHOLD_=65536 (for its own
                # memory reporting): glibc then hands memory back at every free over 64 KB, and
                # a run trained 6-9 % slower with it (MR gat-window, 2,000 sentences)
                "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                # one task per single-threaded worker at a time, the rest held by the scheduler:
                # at the default 1.1 each worker also queued a second run of its own, which
                # waited behind a long run while the other worker sat idle at the study's end
                "distributed.scheduler.worker-saturation": 1.0,
                # a worker silent for 5 minutes (the default TTL) was restarted, killing its
                # run: a machine suspended or a study paused (SIGSTOP) for longer lost the
                # runs in flight, and a long run paused three times failed as KilledWorker.
                # A local worker that really dies closes its connection, which is noticed at once
                "distributed.scheduler.worker-ttl": None}
    with dask.config.set(settings):
        if scheduler:
            with Client(scheduler, timeout="30s") as client:
                _announce(client)
                yield client
            return
        with LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address="127.0.0.1:0" if has_dashboard() else None,
                          silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
            _announce(client)
            yield client


def _announce(client) -> None:
    if client.dashboard_link and has_dashboard():
        print(f"Dask dashboard: {client.dashboard_link}", file=sys.stderr)


def has_dashboard() -> bool:
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return False
    return True
