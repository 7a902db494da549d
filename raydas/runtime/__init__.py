"""The Ray layer: which Ray a run uses, the processor actors, the driver loop,
the run and its report, ``raydas watch``, and ``raydas up``/``down``.

=============  ================================================================
``cluster``    connect to a cluster, attach to the Ray running on this machine,
               or start a private one; device choice and actor layout
``actors``     the ingest task, the processor actor, the :class:`ActorPool`
``driver``     the :class:`Driver`: bounded window, ordering, retries
``report``     :class:`RunReport`, :class:`Failure`, :class:`ProcessedChunk`
``run``        :class:`Run` (scan, plan, skip what is done, drive, report), :class:`Mode`
``watch``      :class:`Watcher`: process files as they arrive
``local``      ``raydas up`` / ``raydas down``: a Ray of raydas's own on this machine
``progress``   progress bar and memory sampling
=============  ================================================================
"""

from .actors import ActorPool, ProcessorSetup
from .cluster import FREE_OBJECTS_PERIOD_MS, ActorLayout, actor_layout, choose_device, connect
from .driver import Driver
from .local import down, up
from .report import FAILURE_REPORT, STAGES, Failure, ProcessedChunk, RunReport
from .run import Mode, Run, run
from .watch import Watcher, watch

__all__ = [
    "FAILURE_REPORT",
    "FREE_OBJECTS_PERIOD_MS",
    "STAGES",
    "ActorLayout",
    "ActorPool",
    "Driver",
    "Failure",
    "Mode",
    "ProcessedChunk",
    "ProcessorSetup",
    "Run",
    "RunReport",
    "Watcher",
    "actor_layout",
    "choose_device",
    "connect",
    "down",
    "run",
    "up",
    "watch",
]
