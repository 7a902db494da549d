"""Run configuration: raydas's own JSON, and distpy's system configs read unchanged.

raydas's own config (every key but ``input`` optional)::

    {
      "input": "data/*.sgy",            # path, glob, folder or URL (or a list of them)
      "output": "results",              # results root: every output file lies under it
      "processing": "noiselog.json",    # distpy processing config (file or inline object)
      "chunk_seconds": 1.0,             # chunk duration (s)
      "store": null,                    # chunk store URL: filled by `ingest` (default: output), read by `process`
      "format": null,                   # force a format instead of detecting it
      "sample_rate": null,              # override the files' sample rate (Hz)
      "quicklook": true,                # render quicklook.png of the band energies at the end
      "ray": {"address": null, "device": "auto", "num_actors": null, "in_flight": null},
      "limits": {"output_bytes": null, "actor_memory_bytes": null}   # refuse a plan that costs more
    }

A distpy *system* config (``in_drive``/``out_drive``/``project``/``data``/
``results``, or ``in_directory``/``out_directory``, plus ``config``, ``prf``,
``ncpu``, ...) is recognised by its keys and mapped onto the same model.
Relative paths are taken relative to the config file's folder.

Folders for outputs named inside configs (``directory_out``, distpy's
``project``/``results``, ``ray.timeline``) stay under their root
(:func:`raydas.outputs.safe_relative`). Credentials never go in configs: they
come from the environment or the machine's identity, and :func:`redact` scrubs
them from anything raydas echoes.
"""

from __future__ import annotations

import os
import re
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import ConfigDict, Field, ValidationError, field_validator

from . import plausible
from .configfile import config_folder, json_path, load_json, resolve_path, validation_error
from .errors import ConfigError
from .fsutil import join
from .outputs import check_output_path, safe_relative
from .plausible import SaneNumbers

DISTPY_SYSTEM_KEYS = {
    "in_drive",
    "out_drive",
    "in_directory",
    "out_directory",
    "project",
    "data",
    "results",
    "parallel_flag",
    "ncpu",
    "BOX_SIZE",
    "measured_depth",
    "time_scale",
}


# --- credentials: from the environment or instance identity, never from configs ----------------
#: Names of mapping keys / URL query parameters whose values are secrets (s3fs's ``key``/``secret``,
#: ``token``, ``password``, Azure SAS ``sig``, AWS presigned ``X-Amz-Signature``/``X-Amz-Credential``...).
SECRET_NAME = re.compile(
    r"(^|[_\-.])(key|secret|token|password|passwd|pwd|credentials?|sig|signature|sas|"
    r"connection_?string|x-amz-(signature|credential|security-token))$",
    re.IGNORECASE,
)
#: Environment variables that hold object-store or Ray credentials; their values are scrubbed from reports.
SECRET_ENV_VARS = (
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AZURE_STORAGE_KEY",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_CLIENT_SECRET",
    "GOOGLE_OAUTH_ACCESS_TOKEN",
    "RAY_AUTH_TOKEN",
)
REDACTED = "***"
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s:]*:[^/@\s]*@")


def url_secret(url: str) -> str | None:
    """What in ``url`` is a credential (a ``user:password@`` part or a secret query
    parameter such as an Azure SAS ``sig``), or None if it carries none."""
    text = str(url)
    if _URL_PASSWORD.match(text):
        return "a user:password@ part"
    if "://" in text and "?" in text:
        for name, _ in parse_qsl(urlsplit(text).query, keep_blank_values=True):
            if SECRET_NAME.search(name):
                return f"the query parameter {name!r}"
    return None


def redact(value: Any) -> Any:
    """A copy of ``value`` (config, report, message) safe to print or write into results.

    Mapping entries whose key names a secret (:data:`SECRET_NAME`) become ``***``;
    in strings, ``user:password@`` in URLs, secret query parameters and the values of
    the credential environment variables (:data:`SECRET_ENV_VARS`) become ``***``.
    """
    if isinstance(value, dict):
        return {
            k: (REDACTED if isinstance(k, str) and SECRET_NAME.search(k) and v not in (None, "") else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v) for v in value)
    if not isinstance(value, str):
        return value
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}{REDACTED}@", value)
    text = re.sub(
        r"([?&])([^=&#\s]+)=([^&#\s]*)",
        lambda m: f"{m.group(1)}{m.group(2)}={REDACTED}" if SECRET_NAME.search(m.group(2)) else m.group(0),
        text,
    )
    for name in SECRET_ENV_VARS:
        secret = os.environ.get(name)
        if secret and len(secret) >= 6:
            text = text.replace(secret, REDACTED)
    return text


def _no_credentials(value):
    for url in value if isinstance(value, list) else [value]:
        if isinstance(url, str) and (what := url_secret(url)):
            raise ValueError(
                f"{redact(url)!r} carries a credential ({what}); object-store credentials come from "
                "the environment or the instance's identity, never from config files"
            )
    return value


class RayOptions(SaneNumbers):
    """How to run on Ray."""

    model_config = ConfigDict(extra="forbid")

    address: str | None = Field(
        None,
        description="Ray address, 'auto' (the Ray running on this machine) or 'local' (a private one); default: "
        "RAY_ADDRESS if set, else the Ray running on this machine (raydas up, ray start --head), else a private one",
    )
    device: Literal["auto", "cpu", "gpu"] = Field("auto", description="where processor actors compute")
    num_actors: int | None = Field(None, ge=1, description="processor actors (default: one per GPU, or per CPU)")
    actor_cpus: float = Field(1.0, gt=0, description="CPUs reserved by each processor actor")
    in_flight: int | None = Field(None, ge=1, description="chunks in flight (default: 2 per actor)")
    num_cpus: int | None = Field(
        None, ge=1, description="CPUs of a private local Ray (default: all); given, a private Ray is started"
    )
    timeline: str | None = Field(
        None, description="file under the results root for ray.timeline()'s Chrome trace JSON (e.g. timeline.json)"
    )

    @field_validator("timeline")
    @classmethod
    def _under_results_root(cls, value):
        return value if value is None else safe_relative(value)


class Limits(SaneNumbers):
    """What a run may cost; a plan over a limit is refused before any work (sizes in
    bytes, or strings with a unit: ``"50 GB"``, ``"4 GiB"``)."""

    model_config = ConfigDict(extra="forbid")

    output_bytes: int | None = Field(
        None, description="most bytes the run's outputs may take (default: the results root's free space less 5%)"
    )
    actor_memory_bytes: int | None = Field(
        None,
        description="most memory a processor actor may use on one chunk and its halo (default: this machine's "
        "memory shared among the processor actors)",
    )

    @field_validator("output_bytes", "actor_memory_bytes", mode="before")
    @classmethod
    def _size(cls, value, info):
        return value if value is None else plausible.byte_size(value, info.field_name)


class RunConfig(SaneNumbers):
    """A raydas run: where data come from, how they are processed, where results go."""

    model_config = ConfigDict(extra="forbid")

    input: str | list[str] = Field(description="path, glob, folder or URL of the data (or a list)")
    output: str = Field("results", description="results root (path or URL)")
    processing: str | dict | None = Field(None, description="distpy processing config: file or inline object")
    chunk_seconds: float = Field(1.0, gt=0, description="chunk duration (s)")
    store: str | None = Field(None, description="chunk store URL (ingest writes it, process reads it)")
    format: str | None = Field(None, description="force this format instead of detecting by content")
    sample_rate: float | None = Field(None, gt=0, description="override the sample rate of every record (Hz)")
    assumed_sample_rate: float | None = Field(
        None, gt=0, description="sample rate for records that do not state one (distpy's prf)"
    )
    quicklook: bool = Field(True, description="render quicklook.png of written band energies")
    ray: RayOptions = Field(default_factory=RayOptions)
    limits: Limits = Field(default_factory=Limits)

    @field_validator("input")
    @classmethod
    def _not_empty(cls, value):
        if not value:
            raise ValueError("input is empty")
        return value

    @field_validator("input", "output", "processing", "store")
    @classmethod
    def _no_credentials_in_urls(cls, value):
        return _no_credentials(value)

    @field_validator("chunk_seconds")
    @classmethod
    def _plausible_duration(cls, value):
        return plausible.duration(value, "chunk_seconds")

    @field_validator("sample_rate", "assumed_sample_rate")
    @classmethod
    def _plausible_rate(cls, value, info):
        return value if value is None else plausible.sample_rate(value, info.field_name)


#: what a config error says when a key looks like a credential
CREDENTIALS_ADVICE = (
    "credentials do not belong in config files: set them in the environment (AWS_ACCESS_KEY_ID/"
    "AWS_SECRET_ACCESS_KEY, AZURE_STORAGE_*, GOOGLE_APPLICATION_CREDENTIALS) or use the instance's "
    "identity (IAM role, managed identity, workload identity)"
)


def _validation_error(exc: ValidationError, source: str | None) -> ConfigError:
    """A run config's validation error; a key that would carry credentials gets advice instead."""
    err = exc.errors()[0]
    last = err["loc"][-1] if err["loc"] else ""
    if (
        err["type"] == "extra_forbidden"
        and isinstance(last, str)
        and (SECRET_NAME.search(last) or last in ("storage_options", "client_kwargs"))
    ):
        return ConfigError(json_path(err["loc"]), CREDENTIALS_ADVICE, source)
    return validation_error(exc, source)


def from_distpy_system(doc: dict, source: str | None = None) -> RunConfig:
    """Map a distpy system config onto a :class:`RunConfig`."""

    def need(key):
        if key not in doc:
            raise ConfigError(
                f"$.{key}",
                "missing (a distpy system config names in_drive, project, data and results, and optionally "
                "out_drive; or in_directory and out_directory)",
                source,
            )
        value = doc[key]
        if not isinstance(value, str):
            raise ConfigError(f"$.{key}", f"must be a string, got {value!r}", source)
        return value

    if "in_drive" in doc:
        # project and results are folders under the drives: they may not climb out of them
        project = check_output_path(need("project"), "$.project", source)
        results = check_output_path(need("results"), "$.results", source)
        in_dir = join(need("in_drive"), project, need("data"))
        out_dir = join(need("out_drive") if "out_drive" in doc else need("in_drive"), project, results)
    else:
        in_dir, out_dir = need("in_directory"), need("out_directory")
    ray: dict[str, Any] = {}
    ncpu = doc.get("ncpu")
    if ncpu is not None:
        if not isinstance(ncpu, int) or isinstance(ncpu, bool) or ncpu < 1:
            raise ConfigError("$.ncpu", f"must be a positive integer, got {ncpu!r}", source)
        ray["num_actors"] = 1 if not doc.get("parallel_flag") else ncpu
    prf = doc.get("prf")
    if prf is not None:
        try:
            plausible.sample_rate(prf, "prf (Hz)")
        except ValueError as exc:
            raise ConfigError("$.prf", str(exc), source) from None
    config = doc.get("config")
    if config is not None and not isinstance(config, str):
        raise ConfigError("$.config", f"must be the path of a processing config, got {config!r}", source)
    try:
        return RunConfig(input=in_dir, output=out_dir, processing=config, assumed_sample_rate=prf, ray=ray)
    except ValidationError as exc:
        raise _validation_error(exc, source) from None


def load_config(source: str | dict, base: str | None = None) -> RunConfig:
    """Load a run config (raydas's own, or a distpy system config) from a file
    path/URL or a dict. Relative paths are resolved against the file's folder.

    Raises
    ------
    ConfigError
        Naming the file and the JSON path of the problem.
    """
    path = None
    if isinstance(source, dict):
        doc = source
    else:
        path = str(source)
        doc = load_json(path)
        if base is None:
            base = config_folder(path)
    if not isinstance(doc, dict):
        raise ConfigError("$", f"a run config is a JSON object, not {type(doc).__name__}", path)
    if "command_list" in doc:
        name = os.path.basename(path) if path else "processing.json"
        raise ConfigError(
            "$",
            "this is a processing config (command_list), not a run config: name it as 'processing' in a run "
            f'config, e.g. {{"input": "data/*.sgy", "processing": "{name}"}}, and run: raydas run RUN_CONFIG.json',
            path,
        )
    if "input" not in doc and DISTPY_SYSTEM_KEYS & set(doc):
        cfg = from_distpy_system(doc, path)
    else:
        try:
            cfg = RunConfig.model_validate(doc)
        except ValidationError as exc:
            raise _validation_error(exc, path) from None
    if base is not None:
        inputs = cfg.input if isinstance(cfg.input, list) else [cfg.input]
        resolved = [resolve_path(base, i) for i in inputs]
        cfg = cfg.model_copy(
            update={
                "input": resolved if isinstance(cfg.input, list) else resolved[0],
                "output": resolve_path(base, cfg.output),
                "store": resolve_path(base, cfg.store),
                "processing": resolve_path(base, cfg.processing) if isinstance(cfg.processing, str) else cfg.processing,
            }
        )
    return cfg
