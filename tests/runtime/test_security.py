"""Security of what configs can do: outputs stay inside the results root,
credentials never come from configs and never reach outputs, logs or reports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

import pytest
from helpers import REPO

from raydas.config import load_config, redact
from raydas.errors import ConfigError, OutputPathError
from raydas.outputs import OutputSink, check_output_path, safe_relative
from raydas.pipeline import Pipeline

NOISELOG = os.path.join(REPO, "configs/demo-noiselog.json")

ESCAPES = [
    "../elsewhere",
    "NoiseLog/../../elsewhere",
    "/etc/cron.d",
    "~/results",
    "s3://other-bucket/results",
    "file:///tmp/results",
    "gs://x/y",
    "C:/windows",
    "%2e%2e/elsewhere",
    "..%2felsewhere",
    "NoiseLog/%2E%2E/%2e%2e/up",
    "%252e%252e/double-encoded",
    "a\\..\\..\\b",
    "bad\x00name",
    "line\nbreak",
]


@pytest.mark.parametrize("bad", ESCAPES)
def test_directory_out_cannot_leave_the_results_root(bad):
    graph = {"command_list": [{"name": "write_npy", "uid": 1, "in_uid": 0, "directory_out": bad}]}
    with pytest.raises(ConfigError) as err:
        Pipeline.from_config(graph, source="flow.json")
    assert err.value.json_path == "$.command_list[0].directory_out"
    assert "flow.json" in str(err.value) and "output paths" in str(err.value)


@pytest.mark.parametrize("bad", ESCAPES)
def test_the_one_check_refuses_escapes(bad):
    with pytest.raises(ValueError):
        safe_relative(bad)
    with pytest.raises(ConfigError) as err:
        check_output_path(bad, "$.results", "sys.json")
    assert err.value.json_path == "$.results"
    with pytest.raises(ValueError):  # the writer refuses them too, whoever calls it
        OutputSink("/tmp/results").url(bad)


@pytest.mark.parametrize(
    "good,norm",
    [("NoiseLog", "NoiseLog"), ("a/b/../c", "a/c"), ("./png/", "png"), ("band 0-100 Hz", "band 0-100 Hz"), ("", "")],
)
def test_ordinary_folders_are_kept(good, norm):
    assert safe_relative(good) == norm
    assert (
        OutputSink("s3://bucket/res").url(f"{good}/x.fbe" if good else "x.fbe")
        == f"s3://bucket/res/{norm + '/' if norm else ''}x.fbe"
    )


@pytest.mark.parametrize("bad", ["/etc/cron.d/x.json", "../trace.json", "s3://other-bucket/t.json", "%2e%2e/t.json"])
def test_timeline_file_stays_under_the_results_root(bad, tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config({"input": "x", "ray": {"timeline": bad}})
    assert err.value.json_path == "$.ray.timeline"
    from raydas.apps.cli import main

    config = tmp_path / "run.json"
    config.write_text(json.dumps({"input": str(tmp_path / "none.sgy"), "processing": NOISELOG}))
    assert main(["run", str(config), "--timeline", bad, "--no-progress"]) == 2  # refused before any work
    assert main(["run", str(config), "--timeline", "ok.json", "--no-progress"]) == 1  # accepted: the scan fails
    assert load_config({"input": "x", "ray": {"timeline": "trace/timeline.json"}}).ray.timeline == "trace/timeline.json"


@pytest.mark.parametrize(
    "key,bad",
    [
        ("results", "../../etc"),
        ("results", "/abs"),
        ("project", "../other"),
        ("results", "s3://other-bucket"),
        ("project", "%2e%2e"),
    ],
)
def test_distpy_project_and_results_stay_under_the_drive(key, bad):
    doc = {"in_drive": "archive", "out_drive": "scratch", "project": "p1", "data": "sgy", "results": "out"}
    doc[key] = bad
    with pytest.raises(ConfigError) as err:
        load_config(doc)
    assert err.value.json_path == f"$.{key}"


@pytest.mark.parametrize(
    "doc,where",
    [
        ({"input": "s3://AKIAEXAMPLE:wJalrXUtnFEMI@bucket/data"}, "$.input"),
        ({"input": ["data/a.sgy", "ftp://user:hunter22@host/b.sgy"]}, "$.input"),
        ({"input": "x", "output": "https://acct.blob.core.windows.net/c/res?sv=2024&sig=c2VjcmV0"}, "$.output"),
        ({"input": "x", "store": "s3://b/store?X-Amz-Signature=abc"}, "$.store"),
    ],
)
def test_credentials_in_urls_are_refused(doc, where):
    with pytest.raises(ConfigError) as err:
        load_config(doc)
    assert err.value.json_path == where
    message = str(err.value)
    assert "environment" in message
    for secret in ("wJalrXUtnFEMI", "hunter22", "c2VjcmV0", "abc'"):
        assert secret not in message


@pytest.mark.parametrize("key", ["storage_options", "secret", "aws_secret_access_key", "token", "password"])
def test_credential_keys_in_configs_are_refused(key):
    with pytest.raises(ConfigError) as err:
        load_config({"input": "x", key: {"key": "AKIA", "secret": "s3cr3t"}})
    assert err.value.json_path == f"$.{key}"
    assert "credentials do not belong in config files" in str(err.value)
    assert "s3cr3t" not in str(err.value)


def test_azure_container_urls_are_not_credentials():
    cfg = load_config({"input": "abfs://data@account.dfs.core.windows.net/well1/*.h5", "output": "gs://bucket/res"})
    assert cfg.input.startswith("abfs://data@")


def test_redact_hides_secret_keys_urls_and_env_values(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret-value-123")
    doc = {
        "key": "AKIA1",
        "secret": "s1",
        "storage_options": {"token": "t1", "client_kwargs": {"password": "p1"}},
        "input": ["s3://u:p2@b/x", "https://h/x?sig=s3&name=keep"],
        "record_key": "/Acquisition/Raw[0]",
        "error": "denied with env-secret-value-123",
        "sample_rate": 1000.0,
        "api_key": None,
    }
    out = redact(doc)
    text = json.dumps(out)
    for secret in ("AKIA1", "s1", "t1", "p1", "p2", "env-secret-value-123"):
        assert secret not in text
    assert out["sample_rate"] == 1000.0 and out["api_key"] is None
    assert out["input"] == ["s3://***@b/x", "https://h/x?sig=***&name=keep"]  # the query's secret, only it
    assert out["error"] == "denied with ***"
    assert doc["key"] == "AKIA1"  # the input is left alone


def _all_files(root):
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                yield path


# --- symbolic links inside the results root ---------------------------------------------------
def test_the_sink_does_not_write_through_a_linked_folder(tmp_path):
    root, outside = tmp_path / "res", tmp_path / "outside"
    (root / "a").mkdir(parents=True)
    outside.mkdir()
    os.symlink(outside, root / "NoiseLog")
    os.symlink(outside, root / "a" / "deep")
    sink = OutputSink(str(root))
    for relative in ("NoiseLog/1.fbe", "a/deep/b/1.fbe"):
        with pytest.raises(OutputPathError, match="symbolic link"):
            sink.write(relative, b"result")
    assert os.listdir(outside) == []
    assert sink.write("a/b/1.fbe", b"result") == f"{root}/a/b/1.fbe"  # real folders are made and written


def test_the_sink_replaces_a_linked_file_instead_of_writing_where_it_points(tmp_path):
    root, victim = tmp_path / "res", tmp_path / "victim.txt"
    (root / "NoiseLog").mkdir(parents=True)
    victim.write_text("precious")
    os.symlink(victim, root / "NoiseLog" / "1.fbe")
    sink = OutputSink(str(root))
    assert sink.existing(["NoiseLog/1.fbe"]) == set()  # a link is not an output: resume redoes it
    sink.write("NoiseLog/1.fbe", b"result")
    assert victim.read_text() == "precious"
    assert not os.path.islink(root / "NoiseLog" / "1.fbe") and (root / "NoiseLog" / "1.fbe").read_bytes() == b"result"


@pytest.mark.slow
def test_a_run_never_writes_through_links_in_the_results_root(ray_session, demo_files, tmp_path):
    """A linked writer folder fails its chunks, named in the failure report; a linked output
    file is replaced by the real output (its target untouched); nothing lands outside."""
    from raydas.config import RunConfig
    from raydas.errors import RunFailed
    from raydas.runtime import FAILURE_REPORT, run

    root, outside = tmp_path / "res", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    os.symlink(outside, root / "NoiseLog")
    cfg = RunConfig(input=demo_files, output=str(root), processing=NOISELOG, quicklook=False)
    with pytest.raises(RunFailed) as err:
        run(cfg, progress=False)
    assert len(err.value.failures) == 12 and all("symbolic link" in f.error for f in err.value.failures)
    assert os.listdir(outside) == []
    assert json.loads((root / FAILURE_REPORT).read_text())["chunks"]["failed"] == 12

    os.remove(root / "NoiseLog")
    run(cfg, progress=False)  # where the first chunk's output goes (its recording's folder)
    (first,) = (root / "NoiseLog").rglob("1748779200.fbe")  # the first chunk's output (2025-06-01T12:00:00Z)
    shutil.rmtree(root / "NoiseLog")
    shutil.rmtree(root / "raydas-manifest")
    first.parent.mkdir(parents=True)
    victim = outside / "victim.fbe"
    victim.write_bytes(b"precious")
    os.symlink(victim, first)
    report = run(cfg, progress=False)
    assert report.chunks_done == 12 and report.chunks_skipped == 0  # the link was not taken for an output
    assert victim.read_bytes() == b"precious" and os.listdir(outside) == ["victim.fbe"]
    assert not os.path.islink(first) and first.is_file()


# --- every path from a config goes through the one check ---------------------------------------
@pytest.mark.parametrize("bad", ESCAPES)
def test_keras_model_file_stays_under_the_results_root(bad):
    """The keras command reads its model there and, with train, saves it back there
    (it overwrote a file outside the root when training)."""
    graph = {
        "command_list": [
            {"name": "mean", "uid": 1, "in_uid": 0},
            {"name": "keras", "uid": 2, "in_uid": 0, "gather_uids": [1], "filename": bad, "train": {"epochs": 1}},
        ]
    }
    with pytest.raises(ConfigError) as err:
        Pipeline.from_config(graph, source="flow.json")
    assert err.value.json_path == "$.command_list[1].filename"
    assert "output paths" in str(err.value)


def _plots_config(folder, directory_out):
    import numpy as np

    np.save(folder / "time.npy", 1_583_020_800 + 60.0 * np.arange(4))
    np.save(folder / "measured_depth.npy", np.arange(3.0).reshape(-1, 1))
    np.save(folder / "band.npy", np.ones((3, 4)))
    doc = {
        "directory_out": directory_out,
        "dpi": 20,
        "figure_size": [2, 2],
        "plots": [{"plot_type": "well_log", "out_plot": "log", "plot_list": [{"data": "band.npy"}]}],
    }
    path = folder / "plotsConfig.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("bad", ESCAPES)
def test_plots_directory_out_stays_under_the_config_folder(bad, tmp_path):
    from raydas.apps.cli import main
    from raydas.apps.plot import load_plots_config

    folder = tmp_path / "cfg"
    folder.mkdir()
    path = _plots_config(folder, bad)
    with pytest.raises(ConfigError) as err:
        load_plots_config(str(path))
    assert err.value.json_path == "$.directory_out" and "output paths" in str(err.value)
    assert main(["plot", str(path)]) == 2
    found = [os.path.join(d, f) for d, _, files in os.walk(tmp_path) for f in files if f.endswith(".png")]
    assert found == []


def test_plots_directory_out_under_the_config_folder_is_drawn(tmp_path):
    from raydas.apps.plot import run_plots

    path = _plots_config(tmp_path, "plots/well")
    assert run_plots(str(path)) == [f"{tmp_path}/plots/well/log.png"]


def test_two_writers_may_not_share_a_folder():
    graph = {
        "command_list": [
            {"name": "write_npy", "uid": 1, "in_uid": 0, "directory_out": "out"},
            {"name": "rms_from_fft", "uid": 2, "in_uid": 0},
            {"name": "write_npy", "uid": 3, "in_uid": 2, "directory_out": "./out/"},  # the same folder
        ]
    }
    with pytest.raises(ConfigError) as err:
        Pipeline.from_config(graph, source="flow.json")
    assert err.value.json_path == "$.command_list[2].directory_out"
    assert "$.command_list[0]" in str(err.value)
    graph["command_list"][2]["directory_out"] = "out/rms"  # a folder of its own, even inside the other's
    assert len(Pipeline.from_config(graph).nodes) == 3


@pytest.mark.parametrize(
    "command",
    [
        {"name": "write_npy"},
        {"name": "write_witsml"},
        {"name": "thumbnail"},
        {"name": "clip", "tmin": 0.0, "tmax": 0.5},
    ],
)
@pytest.mark.parametrize(
    "folder", ["raydas-failures.json", "RAYDAS-FAILURES.JSON", "raydas-manifest", "quicklook.png", "manifest.parquet"]
)
def test_a_writer_folder_may_not_take_the_name_of_raydas_files(command, folder):
    graph = {"command_list": [dict(command, uid=1, in_uid=0, directory_out=folder)]}
    with pytest.raises(ConfigError) as err:
        Pipeline.from_config(graph, source="flow.json")
    assert err.value.json_path == "$.command_list[0].directory_out"
    assert "raydas keeps for its own files" in str(err.value)


def test_the_reserved_names_cover_the_files_raydas_writes_at_the_root():
    from raydas.commands.quicklook import QUICKLOOK
    from raydas.formats.chunkstore import MANIFEST
    from raydas.outputs import check_not_reserved
    from raydas.runtime import FAILURE_REPORT

    for name in (FAILURE_REPORT, QUICKLOOK, MANIFEST):
        with pytest.raises(ValueError):
            check_not_reserved(name)
    with pytest.raises(ConfigError) as err:  # the Chrome trace may not replace the failure report either
        load_config({"input": "x", "ray": {"timeline": FAILURE_REPORT}})
    assert err.value.json_path == "$.ray.timeline"
    assert check_not_reserved("NoiseLog/raydas-failures.json") == "NoiseLog/raydas-failures.json"  # not at the top


# --- credentials never echoed, whatever their case or style -----------------------------------
#: names whose values are secrets, in the cases and styles configs, URLs and headers use
SECRET_KEYS = [
    "apiKey",
    "api_key",
    "API-KEY",
    "x-api-key",
    "Authorization",
    "authorization",
    "passphrase",
    "Passphrase",
    "password",
    "PASSWORD",
    "passwd",
    "pwd",
    "secret",
    "client_secret",
    "clientSecret",
    "token",
    "accessToken",
    "access_token",
    "refresh_token",
    "sessionToken",
    "aws_secret_access_key",
    "AWS_SESSION_TOKEN",
    "X-Amz-Signature",
    "x-amz-security-token",
    "X-Amz-Credential",
    "X-Goog-Signature",
    "X-Goog-Credential",
    "sig",
    "Signature",
    "sas_token",
    "SASToken",
    "SharedAccessSignature",
    "connection_string",
    "AccountKey",
    "private_key",
    "privateKey",
    "credentials",
    "cookie",
    "jwt",
]
assert len(SECRET_KEYS) >= 30


def _secret(i: int) -> str:
    return f"Zq{i:02d}x7SecretValue{i:02d}k"  # unique, and not a word raydas could print by itself


def _url_forms(host: str) -> list[tuple[str, str]]:
    """(URL, its secret): each secret-shaped name as a query parameter, plus the other ways
    URLs carry credentials (user:password@, a fragment, a bare API key, several at once)."""
    forms = [(f"http://{host}/d.sgy?name=keep&{k}={_secret(i)}", _secret(i)) for i, k in enumerate(SECRET_KEYS)]
    n = len(SECRET_KEYS)
    forms += [
        (f"http://user:{_secret(n)}@{host}/d.sgy", _secret(n)),
        (f"http://{host}/d.sgy#access_token={_secret(n + 1)}", _secret(n + 1)),
        (f"http://{host}/d.sgy?key={_secret(n + 2)}", _secret(n + 2)),  # Google-style API key
        (f"http://{host}/d.sgy?sv=2024-01-01&sp=r&sig={_secret(n + 3)}&se=2030", _secret(n + 3)),  # Azure SAS
        (f"http://{host}/d.sgy?Expires=1&Signature={_secret(n + 4)}&Key-Pair-Id=K2", _secret(n + 4)),  # CloudFront
    ]
    return forms


def _text_forms() -> list[tuple[str, str]]:
    """(text, its secret): the secret-shaped names in the forms messages carry them."""
    forms = []
    for i, k in enumerate(SECRET_KEYS):
        s = _secret(i)
        forms += [(f"failed with {k}={s} set", s), (f"{{'{k}': '{s}'}}", s), (f'{{"{k}": "{s}"}}', s)]
    forms += [
        (f"Authorization: Bearer {_secret(90)}", _secret(90)),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA"),
        ("curl -H 'Authorization: Basic dXNlcjpwYXNz' x", "dXNlcjpwYXNz"),
        (f"DefaultEndpointsProtocol=https;AccountName=a;AccountKey={_secret(91)};EndpointSuffix=x", _secret(91)),
        ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl seen", "eyJzdWIiOiIxMjM0NTY3ODkwIn0"),
    ]
    return forms


def test_redact_scrubs_every_secret_shaped_key_url_and_text():
    doc = {k: _secret(i) for i, k in enumerate(SECRET_KEYS)}
    out = redact({"nested": [doc], "sample_rate": 1000.0, "record": "/Acquisition/Raw[0]"})
    assert out["nested"][0] == {k: "***" for k in SECRET_KEYS}
    assert out["sample_rate"] == 1000.0 and out["record"] == "/Acquisition/Raw[0]"
    for url, secret in _url_forms("h"):
        assert secret not in redact(url), url
        assert "name=keep" in redact(url) or "name=keep" not in url  # what is not secret stays
    for text, secret in _text_forms():
        assert secret not in redact(text), text
    # what is not a secret is left alone
    for text in (
        "record key: /Acquisition/Raw[0]",
        "abfs://data@account.dfs.core.windows.net/x.h5",
        "signal 12:00:00 basic checks; token expired; author=Smith; keyboard=us",
        "s3://bucket/path/to/das.sgy?versionId=3",
    ):
        assert redact(text) == text
    assert redact({"key": "/Acquisition/Raw[0]"}, keys=False) == {"key": "/Acquisition/Raw[0]"}


def _redact_every_rule(text: str) -> str:
    """:func:`redact`'s rules on a text, all applied (no short way): the reference."""
    from raydas import config

    return config._apply_rules(text, config._env_secrets())


def test_redact_short_way_leaves_only_texts_no_rule_changes(monkeypatch):
    """redact skips its regular expressions for texts that cannot hold a credential: on
    every secret form, near-miss and plain text (paths, headers, JSON attrs), in any case
    and with separators inside the names, it gives what applying every rule gives."""
    from raydas import config

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMIK7MDENGbPxRfiCYzz")
    texts = [t for t, _ in _text_forms()] + [u for u, _ in _url_forms("h")]
    texts += [f"{k}={_secret(i)}" for i, k in enumerate(SECRET_KEYS)]
    texts += [f'{{"{k}": "{_secret(i)}"}}' for i, k in enumerate(SECRET_KEYS)]
    texts += [
        "/data/archive/000/shot_000001.sgy",
        '{"sample_format":"IBM float32","position_source":"channel index","byte_order":"big"}',
        "Pass-Word = hunter22 and ACCESS_KEY_ID: AKIAABCDEFGHIJKLMNOP",
        "x-api.KEY=zzzzzzzz&y=1",
        "ftp://user:pw@host/x",
        "AUTHORIZATION: BEARER abcdefgh12345678",
        "Authorization: Basic dXNlcjpwYXNzd29yZA==",
        "the key wJalrXUtnFEMIK7MDENGbPxRfiCYzz leaked",
        "S.I.G=abc",
        "APİ_KEY=abcdefgh and PASSWÖRD=abcdefgh, Kelvin \u212aey=abcdefgh",
        "signal 12:00:00 basic checks; token expired; author=Smith; keyboard=us",
        "record key: /Acquisition/Raw[0]",
        "",
    ]
    for text in texts:
        assert config.redact(text) == _redact_every_rule(text), text
        assert config.redact_many([text, text]) == [_redact_every_rule(text)] * 2, text
    plain = ["/data/archive/000/shot_000001.sgy", '{"byte_order":"big","revision":2}', "C 1 DATE 2024-12-20"]
    assert not any(config._may_hold_secret(t, config._env_secrets()) for t in plain)


@pytest.fixture
def http_host(tmp_path):
    """A loopback HTTP server (query strings and fragments ignored) serving a small file
    d.sgy that is not SEG-Y, so that scanning any URL to it fails fast, naming the URL."""
    import http.server
    import threading

    folder = tmp_path / "served"
    folder.mkdir()
    (folder / "d.sgy").write_bytes(b"not seg-y" * 100)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _raydas(*args, env=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "raydas", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.mark.slow
def test_scan_never_echoes_a_secret(http_host, demo_files, tmp_path):
    """`raydas scan` over every URL form (served, so each is read, fails and is named in the
    errors) and a local file whose name carries a secret pair (a record): table, JSON, errors."""
    import shutil

    forms = _url_forms(http_host)
    local = tmp_path / "local"
    local.mkdir()
    shutil.copy(demo_files[1], local / f"das_apiKey={_secret(99)}.sgy")
    urls = [u for u, _ in forms] + [str(local)]
    secrets = [s for _, s in forms] + [_secret(99)]
    for extra in ([], ["--json"]):
        done = _raydas("scan", *urls, *extra)
        echoed = done.stdout + done.stderr
        assert "d.sgy" in echoed and "das_apiKey=***" in echoed  # the inputs were named...
        for secret in secrets:
            assert secret not in echoed, (secret, extra)  # ...without their secrets
        assert "Traceback" not in echoed


@pytest.mark.parametrize("flag", ["--input", "--output"])
def test_the_input_and_output_flags_never_echo_a_secret(flag, tmp_path, capsys):
    from raydas.apps.cli import main

    config = tmp_path / "run.json"
    config.write_text(json.dumps({"input": str(tmp_path / "none.sgy"), "processing": NOISELOG}))
    for url, secret in _url_forms("host.invalid"):
        assert main(["run", str(config), flag, url, "--no-progress"]) == 2, url
        echoed = capsys.readouterr()
        assert flag in echoed.err and secret not in echoed.out + echoed.err, url


def test_config_errors_never_echo_a_secret(tmp_path, capsys):
    """A processing graph's bad values are echoed in its errors: never their secrets."""
    from raydas.apps.cli import main

    config = tmp_path / "run.json"
    for url, secret in _url_forms("host.invalid"):
        graph = {"command_list": [{"name": "write_npy", "uid": 1, "in_uid": 0, "directory_out": url}]}
        config.write_text(json.dumps({"input": str(tmp_path / "none.sgy"), "processing": graph}))
        assert main(["run", str(config), "--no-progress"]) == 2
        echoed = capsys.readouterr()
        assert "directory_out" in echoed.err and secret not in echoed.out + echoed.err, url


@pytest.mark.slow
def test_a_run_never_echoes_a_secret(s3_bucket, s3_server, demo_files, tmp_path):
    """A verbose CLI run against the S3 server (data and results in a bucket), the secret key
    only in the environment, whose inline processing config carries every secret-shaped key (at
    its top and as a command's unknown parameters), over a good file and a broken one whose name
    carries a secret pair: the secrets (the S3 key's too) reach neither the console (summary,
    failure lines, logs), nor the failure report (its copy of the config included), nor the
    outputs (the timeline too), nor the Ray session's logs."""
    import s3fs

    aws_secret = f"raydas-test-secret-{uuid.uuid4().hex}"
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_server})
    bucket = s3_bucket[len("s3://") :]
    fs.put_file(demo_files[0], f"{bucket}/data/good.sgy")
    broken = f"broken_password={_secret(98)}.sgy"
    fs.pipe_file(f"{bucket}/data/{broken}", open(demo_files[1], "rb").read()[:5000])  # truncated
    graph = json.load(open(NOISELOG))
    keyed = {k: _secret(i) for i, k in enumerate(SECRET_KEYS)}
    graph.update(keyed)
    graph["command_list"][0] = dict(graph["command_list"][0], **keyed)  # unknown parameters: ignored, logged
    config = tmp_path / "run.json"
    config.write_text(
        json.dumps(
            {
                "input": f"{s3_bucket}/data/*.sgy",
                "output": f"{s3_bucket}/results",
                "processing": graph,
                "quicklook": False,
                "ray": {"timeline": "trace/timeline.json"},
            }
        )
    )
    ray_tmp = tempfile.mkdtemp(prefix="rdsec")  # short: Ray's socket paths must stay under 107 bytes
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_ADDRESS")}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": aws_secret,
            "RAY_TMPDIR": ray_tmp,
            "AWS_ENDPOINT_URL": s3_server,
            "FSSPEC_S3_ENDPOINT_URL": s3_server,
        }
    )
    secrets = [*keyed.values(), _secret(98), aws_secret]
    try:
        done = _raydas("-v", "run", str(config), "--no-progress", "--num-cpus", "2", env=env)
        assert done.returncode == 1, done.stderr  # the broken file fails alone
        assert "broken_password=***" in done.stderr  # the failure, on stderr
        assert "has no parameter" in done.stdout  # the graph's warnings: once, in the summary
        s3fs.S3FileSystem.clear_instance_cache()
        written = {path: fs.cat_file(path) for path in fs.find(f"{bucket}/results")}
        assert len([p for p in written if p.endswith(".fbe")]) == 4  # the good file's 4 one-second chunks
        report = json.loads(written[f"{bucket}/results/raydas-failures.json"])
        assert report["failures"][0]["file"] == f"{s3_bucket}/data/broken_password=***"  # the file, its secret masked
        assert report["config"]["input"] == f"{s3_bucket}/data/*.sgy"
        assert report["config"]["processing"]["apiKey"] == "***"
        assert report["config"]["processing"]["command_list"][0]["Authorization"] == "***"
        events = json.loads(written[f"{bucket}/results/trace/timeline.json"])  # under the results root
        assert any(e.get("ph") == "X" for e in events)
        logs = {}
        for path in _all_files(ray_tmp):
            with open(path, "rb") as fh:
                logs[path] = fh.read()
        assert any(p.endswith("raylet.out") for p in logs)  # the session's logs were looked at
        for secret in secrets:
            assert secret not in done.stdout + done.stderr, secret
            for path, content in (written | logs).items():
                assert secret.encode() not in content, (secret, path)
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
