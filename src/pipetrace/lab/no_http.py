"""A Dask LocalCluster whose scheduler and workers never listen with an HTTP server.

Dask starts one on the scheduler (port 8787, else any) and on every worker even with
`dashboard_address=None`: its dashboard, /info, /json, /health, /metrics and, through
/info, the cluster's addresses and logs, open to every user of the machine. The lab serves none
of it. Closing those servers once the cluster is up left them listening for a moment (the
scheduler's from its start until the workers were up); here the nodes' `start_http_server` makes
none, so no HTTP port is ever bound. The scheduler runs in the lab's process; each worker in a
process its nanny starts, from `NoHttpWorker`, imported there by name.
"""

from __future__ import annotations

from distributed import LocalCluster, Nanny, Scheduler, Worker


class NoHttp:
    """A Dask node (scheduler or worker) that starts no HTTP server: nothing listens but its TLS comm port."""

    def start_http_server(self, routes, dashboard_address, default_port=0, ssl_options=None) -> None:
        self.http_server = None


class NoHttpScheduler(NoHttp, Scheduler):
    pass


class NoHttpWorker(NoHttp, Worker):
    pass


class NoHttpNanny(Nanny):
    """A nanny whose worker process runs `NoHttpWorker` (the nanny itself has no HTTP server)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, worker_class=NoHttpWorker, **kwargs)


class NoHttpCluster(LocalCluster):
    """`LocalCluster` (worker processes, each with a nanny) of `NoHttpScheduler` and `NoHttpWorker`s."""

    def __init__(self, **options):
        super().__init__(worker_class=NoHttpNanny, **options)

    async def _start(self):
        self.scheduler_spec = {**self.scheduler_spec, "cls": NoHttpScheduler}  # LocalCluster names Scheduler itself
        await super()._start()
