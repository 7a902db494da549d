"""`ray job submit` as an operator runs it: a real `ray start --head` cluster on
loopback with the dashboard (job server) and token authentication, a job that
runs `python -m raydas run <config>` from a shipped working dir, and the
cluster stopped again, whatever happens.

The cluster gets its own ports, temp dir and token file, so it does not meet
the session's in-process Ray (tests/conftest.py) or anybody else's Ray on the
machine. It is stopped by terminating the `ray start --block` process it came
from, never with `ray stop` (which stops every Ray on the machine).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil

import numpy as np
import pytest
import segyio
from helpers import REPO
from ray_head import BIN, HeadNode, pids_using

from raydas.formats.witsml import parse_fbe


@pytest.mark.slow
def test_ray_job_submit_runs_raydas_on_a_token_protected_cluster(demo_files, tmp_path):
    token_file = tmp_path / "auth_token"
    token_file.write_text(secrets.token_hex(32))
    token_file.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(
        {
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": str(token_file),
            "PATH": BIN + os.pathsep + env.get("PATH", ""),
            "RAY_USAGE_STATS_ENABLED": "0",
        }
    )

    # the job's working dir: a run config, its processing graph and the data, with relative paths
    work = tmp_path / "job"
    (work / "data").mkdir(parents=True)
    shutil.copy(demo_files[0], work / "data")
    shutil.copy(os.path.join(REPO, "configs", "demo-noiselog.json"), work / "noiselog.json")
    results = tmp_path / "results"  # outside the working dir, so the test can read it afterwards
    (work / "job.json").write_text(
        json.dumps({"input": "data/*.sgy", "output": str(results), "processing": "noiselog.json", "quicklook": False})
    )

    head = HeadNode(env)
    try:
        head.wait_ready()
        wrong = {k: v for k, v in env.items() if k != "RAY_AUTH_TOKEN_PATH"}
        denied = head.cli(
            "job", "list", "--address", head.address, env=dict(wrong, RAY_AUTH_TOKEN="not-the-token"), timeout=120
        )
        said = (denied.stdout + denied.stderr).lower()
        assert denied.returncode != 0 and ("auth" in said or "401" in said or "unauthorized" in said), said[-2000:]
        job_id = f"raydas-test-{secrets.token_hex(4)}"
        submit = head.cli(
            "job",
            "submit",
            "--address",
            head.address,
            "--submission-id",
            job_id,
            "--working-dir",
            str(work),
            "--",
            "python",
            "-m",
            "raydas",
            "-v",
            "run",
            "job.json",
            "--no-progress",
        )
        logs = head.cli("job", "logs", "--address", head.address, job_id, timeout=120).stdout
        status = head.cli("job", "status", "--address", head.address, job_id, timeout=120).stdout
        why = f"{status}\n{submit.stdout[-3000:]}\n{submit.stderr[-3000:]}\n{logs[-3000:]}"
        assert f"job '{job_id}' succeeded" in status.lower(), why
        # the driver attached to this cluster through RAY_ADDRESS, not to a private Ray
        assert "Connecting to existing Ray cluster at address" in logs and f":{head.gcs}" in logs, logs[-3000:]
        assert "4 processed" in logs
    finally:
        head.stop()
    assert not pids_using(head.temp_dir)

    files = sorted((results / "NoiseLog" / os.path.basename(demo_files[0])).glob("*.fbe"))
    assert len(files) == 4  # 4 s of data, 1-s chunks, in the recording's folder (named after its file)
    _, curves, depth, values = parse_fbe(files[1].read_bytes())
    with segyio.open(demo_files[0], ignore_geometry=True) as f:
        x = np.asarray(f.trace.raw[:], dtype=np.float64)[:, 1000:2000]  # second 1..2 at 1 kHz
    assert curves[0] == "band_0-nyquist"
    np.testing.assert_allclose(values[:, 0], np.sqrt(np.mean(x**2, axis=1)), rtol=1e-5)
    np.testing.assert_allclose(depth, 500.0 + 2.0 * np.arange(40))
