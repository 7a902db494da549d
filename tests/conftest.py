"""Shared fixtures: one real local Ray for the session, the real vendor sample
files, a real S3 protocol server (moto) on loopback, and generated SEG-Y."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _testdata_root() -> Path:
    env = os.environ.get("RAYDAS_TESTDATA")
    return Path(env) if env else REPO.parent / "shared" / "testdata" / "real"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """Folder of real third-party sample files (../shared/testdata/real)."""
    root = _testdata_root()
    if not (root / "README.md").exists():
        pytest.skip(f"real sample files not found at {root} (set RAYDAS_TESTDATA)")
    return root


def _fibre_root() -> Path:
    env = os.environ.get("RAYDAS_FIBRE_TESTDATA")
    return Path(env) if env else _testdata_root().parent / "fibre"


@pytest.fixture(scope="session")
def fibre_data() -> Path:
    """Folder of real fibre-optic sensing samples (../shared/testdata/fibre: DAS, DTS, DSS, OTDR files of
    the formats added after ``real/``), beside the real sample folder unless ``RAYDAS_FIBRE_TESTDATA`` says."""
    root = _fibre_root()
    if not (root / "README.md").exists():
        pytest.skip(f"fibre sample files not found at {root} (set RAYDAS_FIBRE_TESTDATA or RAYDAS_TESTDATA)")
    return root


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray for the whole test session: 2 CPUs, no dashboard, small object store."""
    import ray

    if not ray.is_initialized():
        ray.init(
            address="local",
            num_cpus=2,
            num_gpus=0,
            include_dashboard=False,
            log_to_driver=False,
            object_store_memory=512 * 1024**2,
            configure_logging=False,
        )
    yield ray
    ray.shutdown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server():
    """A real S3 protocol server (moto) on loopback; yields its endpoint URL.

    Credentials are dummies set in the environment, never in configs.
    """
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("moto server did not start")
    saved = {
        k: os.environ.get(k)
        for k in (
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_DEFAULT_REGION",
            "AWS_ENDPOINT_URL",
            "FSSPEC_S3_ENDPOINT_URL",
        )
    }
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint,
            "FSSPEC_S3_ENDPOINT_URL": endpoint,
        }
    )
    yield endpoint
    proc.terminate()
    proc.wait(timeout=10)
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def s3_bucket(s3_server):
    """A fresh bucket on the moto server; yields its ``s3://`` URL."""
    import uuid

    import s3fs

    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_server})
    name = f"raydas-{uuid.uuid4().hex[:12]}"
    fs.mkdir(name)
    s3fs.S3FileSystem.clear_instance_cache()
    yield f"s3://{name}"


@pytest.fixture(scope="session")
def demo_files(tmp_path_factory) -> list[str]:
    """Three consecutive synthetic SEG-Y files (segyio): 4 s each, 40 channels, 1 kHz."""
    from raydas.apps import demo

    folder = tmp_path_factory.mktemp("demo-segy")
    return demo.generate(str(folder), files=3, seconds=4.0, channels=40, sample_rate=1000.0)
