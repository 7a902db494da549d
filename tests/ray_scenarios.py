"""Scenarios that need a Ray cluster of their own (fake GPUs, several nodes).

Run as ``python tests/ray_scenarios.py NAME ARGS_JSON``; prints one JSON line
``RESULT {...}`` that the tests in test_runtime_scale.py check. A separate
process, because the test session's Ray (conftest ``ray_session``) cannot be
reconfigured in place.
"""

from __future__ import annotations

import json
import os
import sys
import time

import ray
from ray.cluster_utils import Cluster

from raydas import runtime
from raydas.config import RayOptions, RunConfig
from raydas.errors import RaydasError
from raydas.runtime import cluster as raydas_cluster


def layout(args: dict) -> dict:
    """Device and actor layout on one cluster as it grows: a head that schedules nothing (an autoscaling
    cluster before it has scaled), then a CPU node (no GPU), then a (logical) GPU node."""
    out: dict = {}
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "object_store_memory": 100 * 2**20})
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        # CPU: 0 head alone (autoscaler not yet scaled up)
        out["empty_cpu_layout"] = runtime.actor_layout(RayOptions(), "cpu")
        out["empty_gpu_layout"] = runtime.actor_layout(RayOptions(), "gpu")
        cluster.add_node(num_cpus=2, num_gpus=0, object_store_memory=150 * 2**20)
        cluster.wait_for_nodes()
        opts = RayOptions()
        out["cpu_device"] = runtime.choose_device("auto")
        out["cpu_layout"] = runtime.actor_layout(opts, out["cpu_device"])
        # a GPU asked for explicitly where none exists: a clear error, not an actor pending for ever
        raydas_cluster.ACTOR_START_TIMEOUT_S = 3.0
        cfg = RunConfig(
            input=args["files"],
            output=args["out"] + "/gpu-none",
            processing=args["processing"],
            quicklook=False,
            ray=RayOptions(device="gpu"),
        )
        try:
            runtime.run(cfg, progress=False)
            out["gpu_none_error"] = None
        except RaydasError as exc:
            out["gpu_none_error"] = str(exc)
        cluster.add_node(num_cpus=1, num_gpus=1, object_store_memory=150 * 2**20)
        cluster.wait_for_nodes()
        out["gpu_device"] = runtime.choose_device("auto")
        n, actor_opts, ingest_cpus = runtime.actor_layout(opts, out["gpu_device"])
        out["gpu_layout"] = [n, actor_opts, ingest_cpus]

        @ray.remote
        class Probe:
            def ids(self):
                return {
                    "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
                    "cuda_visible": os.environ.get("CUDA_VISIBLE_DEVICES"),
                }

        probe = Probe.options(**actor_opts).remote()
        out["gpu_actor"] = ray.get(probe.ids.remote(), timeout=60)
        ray.kill(probe)
        # the processor actor on the fake GPU: no cupy/CUDA here, so it must fail fast and say why
        cfg = RunConfig(
            input=args["files"], output=args["out"] + "/gpu-fake", processing=args["processing"], quicklook=False
        )
        t0 = time.monotonic()
        try:
            runtime.run(cfg, progress=False)
            out["gpu_fake_error"] = None
        except RaydasError as exc:
            out["gpu_fake_error"] = str(exc)
        out["gpu_fake_seconds"] = time.monotonic() - t0
    finally:
        ray.shutdown()
        cluster.shutdown()
    return out


def node_lost(args: dict) -> dict:
    """A worker node holding a processor actor is removed after the first chunk."""
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": 150 * 2**20})
    worker = cluster.add_node(num_cpus=1, object_store_memory=150 * 2**20)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    out: dict = {"removed": False}
    try:
        cfg = RunConfig(
            input=args["files"],
            output=args["out"],
            processing=args["processing"],
            quicklook=False,
            chunk_seconds=args["chunk_seconds"],
        )
        run = runtime.Run(cfg, progress=False)

        def on_result(plan, result, failure):
            if out["removed"]:
                return
            if len(run.driver.pool.info) < len(run.driver.pool.actors):
                # remove the node once both actors are working (without a ping that would wait for them);
                # chunks are fast, so give the second actor time to start before the first has done them all
                time.sleep(0.3)
                return
            out["actor_nodes"] = sorted({info["node"] for info in run.driver.pool.info.values()})
            out["resent_before"] = run.report.chunks_resent
            cluster.remove_node(worker)
            out["removed"] = True
            out["removed_after"] = len(run.driver.delivered)

        run.on_result = on_result
        report = run.execute()
        out.update(
            chunks_total=report.chunks_total,
            chunks_done=report.chunks_done,
            chunks_resent=report.chunks_resent,
            delivered=run.driver.delivered,
            failures=[f.to_dict() for f in report.failures],
            worker_node=worker.node_id,
        )
    finally:
        ray.shutdown()
        cluster.shutdown()
    return out


def memory(args: dict) -> dict:
    """A synthetic recording through raydas's own private local Ray (as `raydas run` starts it)."""
    cfg = RunConfig(
        input=args["input"],
        output=args["out"],
        processing=args["processing"],
        quicklook=False,
        ray=RayOptions(in_flight=args["in_flight"], num_cpus=2),
    )
    run = runtime.Run(cfg, progress=False)
    report = run.execute()
    mem = run.driver.memory
    return {
        "chunks_done": report.chunks_done,
        "ok": report.ok,
        "in_flight": report.in_flight,
        "peak_store": report.peak_object_store_bytes,
        "store_samples": sum(s is not None for _, s, _ in mem.samples),
        "rss_baseline": mem.baseline_rss,
        "rss_peak": mem.peak_rss,
        "finished_at": run.driver.finished_at,
        "seconds": report.seconds,
        "summary": report.summary(),
    }


if __name__ == "__main__":
    name, raw = sys.argv[1], sys.argv[2]
    result = {"layout": layout, "node_lost": node_lost, "memory": memory}[name](json.loads(raw))
    print("RESULT " + json.dumps(result, default=str), flush=True)
