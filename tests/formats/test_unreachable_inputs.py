"""An input that cannot be reached (nothing listens at its host) is a clear
error naming it, not a ``ClientConnectorError``/``ConnectionRefusedError``
traceback; beside a good input it is one failure and the good file is scanned."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from raydas import formats
from raydas.errors import RaydasError


@pytest.fixture
def dead_url() -> str:
    """An http URL on a loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/data/"


def test_an_unreachable_input_alone_is_a_raydas_error_naming_it(dead_url):
    with pytest.raises(RaydasError, match=rf"{dead_url}: cannot be reached"):
        formats.scan(dead_url)


def test_an_unreachable_input_beside_a_good_one_is_one_failure(real_data, dead_url):
    good = str(real_data / "segy/f3.sgy")
    records, failures = formats.scan([dead_url, good])
    assert [r.path for r in records] == [good]
    assert [f.path for f in failures] == [dead_url] and "cannot be reached" in failures[0].problem


def test_raydas_run_on_an_unreachable_input_says_so_without_a_traceback(tmp_path, dead_url):
    config = tmp_path / "run.json"
    processing = {"command_list": [{"name": "abs", "uid": 1, "in_uid": 0}]}
    config.write_text(json.dumps({"input": dead_url, "output": str(tmp_path / "out"), "processing": processing}))
    done = subprocess.run(
        [sys.executable, "-m", "raydas", "run", str(config), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert f"raydas: error: {dead_url}: cannot be reached" in done.stderr
    assert "Traceback" not in done.stderr
