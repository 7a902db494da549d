"""Run configuration: raydas's own JSON, and distpy's system configs read unchanged.

raydas's own config (every key but ``input`` optional; instead of ``input``, a
catalogue that ``raydas index`` built and a span of it: ``catalogue``, ``start``, ``end``)::

    {
      "input": "data/*.sgy",            # path, glob, folder or URL (or a list of them)
      "output": "results",              # results root: every output file lies under it
      "processing": "noiselog.json",    # distpy processing config (file or inline object)
      "chunk_seconds": 1.0,             # chunk duration (s)
      "chunk_readings": null,           # or chunks of this many readings (samples) each, whatever the sampling
      "store": null,                    # chunk store URL: filled by `ingest` (default: output), read by `process`
      "format": null,                   # force a format instead of detecting it
      "sample_rate": null,              # override the files' sample rate (Hz)
      "quicklook": true,                # render quicklook.png of the band energies at the end
      "nan_policy": "propagate",        # NaN/Inf samples: propagate, zero (set to 0 first) or fail the chunk
      "output_layout": "records",       # outputs in per-recording folders; "distpy": distpy's flat layout
      "resume": "auto",                 # skip outputs the results manifest vouches for; "never": redo all
      "settle_seconds": 5.0,            # raydas watch: take a file once unchanged this long (s)
      "ray": {"address": null, "device": "auto", "num_actors": null, "in_flight": null},
      "limits": {"output_bytes": null, "actor_memory_bytes": null},  # refuse a plan that costs more
      "geometry": null,                 # {"file": CSV of channel, X, Y, Z; "first_channel": 0}
      "catalogue": null,                # catalogue URL: run its records in [start, end) without a scan
      "start": null, "end": null        # the span (ISO-8601, UTC), with catalogue
    }

A distpy *system* config (``in_drive``/``out_drive``/``project``/``data``/
``results``, or ``in_directory``/``out_directory``, plus ``config``, ``prf``,
``ncpu``, ...) is recognised by its keys and mapped onto the same model, with
distpy's output layout. Relative paths are taken relative to the config file's folder.

Keys whose value changes the numbers a run computes are marked
``changes_numbers`` (:func:`numeric_settings` collects them): an output is
trusted on resume only when they are as they were when it was written.

Folders for outputs named inside configs (``directory_out``, distpy's
``project``/``results``, ``ray.timeline``) stay under their root
(:func:`raydas.outputs.safe_relative`). Credentials never go in configs: they
come from the environment or the machine's identity, and :func:`redact` scrubs
them from anything raydas echoes.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import plausible
from .configfile import config_folder, json_path, load_json, resolve_path, validation_error
from .errors import ConfigError
from .fsutil import join
from .outputs import check_not_reserved, check_output_path
from .pipeline import NanPolicy
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
#: Endings of the names (mapping keys, URL query parameters, ``name=value`` pairs in text) whose values
#: are secrets, compared without case or separators (``apiKey``, ``API_KEY``, ``x-api-key`` and
#: ``X-Amz-Signature`` all count): s3fs's ``key``/``secret``/``token``, passwords and passphrases,
#: ``Authorization``, Azure's ``AccountKey`` / ``SharedAccessSignature`` / SAS ``sig``, AWS's and
#: Google's signed-URL ``X-Amz-Signature`` / ``X-Goog-Credential``, CloudFront's ``Signature``...
SECRET_NAME_ENDINGS = (
    "key",
    "keyid",
    "secret",
    "token",
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "credential",
    "credentials",
    "signature",
    "authorization",
    "cookie",
    "connectionstring",
    "sas",
    "bearer",
    "jwt",
    "sessionid",
)
#: Names that are secrets only when they are the whole name (``sig`` but not ``signal``).
SECRET_NAMES_WHOLE = frozenset({"sig", "auth", "pass", "pin", "otp", "apikey"})
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
#: ``name=value`` in a URL's query or fragment, a connection string or free text, and ``name: value``
#: (the value, in the look-ahead, is scrubbed only when the name is a secret's: see :func:`_scrub_pairs`)
_PAIR = re.compile(
    r"(?<![\w-])(?P<name>[A-Za-z][\w.-]*?)\s*[=:]\s*(?=(?P<value>(?:(?:Bearer|Basic|Digest|Token)\s+)?[^\s&;,'\"#<>(){}\[\]]+))",
    re.I,
)
#: ``"name": "value"`` / ``'name': 'value'`` (JSON or a repr of a mapping inside a message)
_QUOTED_PAIR = re.compile(
    r"(?P<q>[\"'])(?P<name>[^\"']{1,64})(?P=q)(?P<sep>\s*:\s*)(?P<vq>[\"'])(?P<value>[^\"']*)(?P=vq)"
)
#: ``Bearer <token>`` / ``Basic <base64>`` (an Authorization header's value)
_SCHEME_TOKEN = re.compile(
    r"\b(?P<scheme>[Bb]earer|BEARER|Basic)(?P<sep>\s+)(?=[\w\-.~+/]*[A-Z\d+/=_.~-])[\w\-.~+/]{8,}=*"
)
#: a JSON Web Token (three base64url parts, the first a JSON header) and an AWS access key id
_SECRET_SHAPED = re.compile(r"\beyJ[\w-]{6,}\.[\w-]{6,}\.[\w-]*|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")


def is_secret_name(name: str) -> bool:
    """True when a key or parameter called ``name`` holds a secret, whatever its case
    or separators (:data:`SECRET_NAME_ENDINGS`, :data:`SECRET_NAMES_WHOLE`)."""
    plain = re.sub(r"[^a-z0-9]", "", str(name).lower())
    return bool(plain) and (plain in SECRET_NAMES_WHOLE or plain.endswith(SECRET_NAME_ENDINGS))


def _scrub_pairs(text: str) -> str:
    """``text`` with the values of its secret-named ``name=value`` / ``name: value`` pairs
    scrubbed. A bare ``key`` counts only in a URL's query or a connection string (after
    ``?``, ``&``, ``#`` or ``;``): in prose, "key: /Acquisition/Raw[0]" names an HDF5 path."""
    out, pos = [], 0
    for m in _PAIR.finditer(text):
        if m.start() < pos or not is_secret_name(m["name"]) or m["value"].startswith(REDACTED):
            continue
        if m["name"].lower() == "key" and (m.start() == 0 or text[m.start() - 1] not in "?&#;"):
            continue
        out += [text[pos : m.end()], REDACTED]
        pos = m.end() + len(m["value"])
    return "".join(out) + text[pos:]


def url_secret(url: str) -> str | None:
    """What in ``url`` is a credential (a ``user:password@`` part, or a secret parameter of
    its query or fragment such as an Azure SAS ``sig`` or an OAuth ``access_token``), or None
    if it carries none."""
    text = str(url)
    if _URL_PASSWORD.match(text):
        return "a user:password@ part"
    if "://" in text:
        parts = urlsplit(text)
        for where, params in (("query", parts.query), ("fragment", parts.fragment)):
            for name, _ in parse_qsl(params, keep_blank_values=True):
                if is_secret_name(name):
                    return f"the {where} parameter {name!r}"
    return None


def redact(value: Any, keys: bool = True) -> Any:
    """A copy of ``value`` (config, report, message, scan listing) safe to print or write
    into results: the one place credentials are scrubbed from what raydas echoes.

    Parameters
    ----------
    value
        A string, or a mapping / list / tuple of them (other values are kept).
    keys
        Scrub the values of mapping entries whose key names a secret
        (:func:`is_secret_name`); False for raydas's own documents, whose keys are
        not input (a scan record's ``key`` is an HDF5 path).

    Returns
    -------
    Any
        The same shape, with ``***`` for: the values of secret-named keys; in strings,
        the ``user:password@`` of URLs, secret-named ``name=value`` / ``name: value`` /
        ``"name": "value"`` pairs (URL query parameters, connection strings, reprs),
        ``Bearer``/``Basic`` tokens, JSON Web Tokens, AWS access key ids, and the values
        of the credential environment variables (:data:`SECRET_ENV_VARS`).
    """
    if isinstance(value, dict):
        return {
            k: (
                REDACTED
                if keys and isinstance(k, str) and is_secret_name(k) and v not in (None, "")
                else redact(v, keys)
            )
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v, keys) for v in value)
    if not isinstance(value, str):
        return value
    return _redact_text(value, _env_secrets())


def redact_many(texts: list[str]) -> list[str]:
    """:func:`redact` of each string of ``texts`` (e.g. the URLs of a listing): the
    same results, with the environment's credentials looked up once for all."""
    env = _env_secrets()
    texts = list(texts)
    if not _may_hold_secret("\n".join(texts), env):  # what no text of the whole holds, none of them holds
        return texts
    return [_redact_text(t, env) for t in texts]


#: the ASCII bytes other than lowercase letters and digits (removed from a lowercased text: what a
#: secret name is compared on; characters beyond ASCII are dropped by the encoding)
_NOT_ALNUM = bytes(b for b in range(128) if not (48 <= b <= 57 or 97 <= b <= 122))
#: every secret name contains one of these (lowercase, letters and digits only)
_SECRET_WORDS = tuple(w.encode() for w in sorted(set(SECRET_NAME_ENDINGS) | SECRET_NAMES_WHOLE))
try:  # the environment's own mapping (CPython): whether a variable is set costs a dict look-up
    _ENV_KEYS = [(name, os.environ.encodekey(name)) for name in SECRET_ENV_VARS]
except AttributeError:  # pragma: no cover  (another Python)
    _ENV_KEYS = None


def _env_secrets() -> list[str]:
    """The values (6 characters or more) of the credential variables set now (:data:`SECRET_ENV_VARS`)."""
    data = getattr(os.environ, "_data", None)
    if _ENV_KEYS is not None and isinstance(data, dict):
        names = [name for name, key in _ENV_KEYS if key in data]
    else:  # pragma: no cover
        names = SECRET_ENV_VARS
    return [secret for name in names if (secret := os.environ.get(name)) and len(secret) >= 6]


def _may_hold_secret(text: str, env: list[str]) -> bool:
    """False only when :func:`redact` leaves ``text`` as it is: it holds no ``://``
    with an ``@``, no ``bearer``/``basic``, no JSON Web Token or AWS key id start,
    no environment credential, and none of the secret names (:data:`SECRET_NAME_ENDINGS`,
    :data:`SECRET_NAMES_WHOLE`) in its lowercase letters and digits (every name a rule
    scrubs the value of is one, whatever its separators). A cheap test that spares
    the regular expressions for the texts that cannot match them (paths, most headers)."""
    if "@" in text and "://" in text or "eyJ" in text or "AKIA" in text or "ASIA" in text:
        return True
    low = text.lower()
    if "bearer" in low or "basic" in low:
        return True
    plain = low.encode("ascii", "ignore").translate(None, _NOT_ALNUM)
    if any(word in plain for word in _SECRET_WORDS):
        return True
    return any(secret in text for secret in env)


def _redact_text(value: str, env: list[str]) -> str:
    return _apply_rules(value, env) if _may_hold_secret(value, env) else value


def _apply_rules(value: str, env: list[str]) -> str:
    """Every rule of :func:`redact` applied to one text (``env``: :func:`_env_secrets`)."""
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}{REDACTED}@", value)
    text = _QUOTED_PAIR.sub(
        lambda m: (
            f"{m['q']}{m['name']}{m['q']}{m['sep']}{m['vq']}{REDACTED}{m['vq']}"
            if is_secret_name(m["name"])
            else m.group(0)
        ),
        text,
    )
    text = _SCHEME_TOKEN.sub(lambda m: f"{m['scheme']}{m['sep']}{REDACTED}", text)
    text = _scrub_pairs(text)
    text = _SECRET_SHAPED.sub(REDACTED, text)
    for secret in env:
        text = text.replace(secret, REDACTED)
    return text


class RedactFilter(logging.Filter):
    """A logging filter passing each record's message (and traceback) through :func:`redact`;
    the command line puts it on its log handlers, so that nothing it logs shows a credential."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


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
        return value if value is None else check_not_reserved(value)


class GeometryConfig(BaseModel):
    """A channel geometry table for a run (see :mod:`raydas.geometry`)."""

    model_config = ConfigDict(extra="forbid")

    file: str = Field(description="the CSV table (path or URL): channel, X, Y, Z per row")
    first_channel: int = Field(
        0, description="the table's channel number of each record's first channel (the next count up)"
    )

    @field_validator("file")
    @classmethod
    def _no_credentials_in_url(cls, value):
        return _no_credentials(value)


#: marks a RunConfig key whose value changes the numbers computed (see :func:`numeric_settings`)
CHANGES_NUMBERS = {"changes_numbers": True}


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

    input: str | list[str] | None = Field(
        description="path, glob, folder or URL of the data (or a list); or give catalogue, start and end"
    )
    output: str = Field("results", description="results root (path or URL)")
    processing: str | dict | None = Field(None, description="distpy processing config: file or inline object")
    chunk_seconds: float = Field(
        1.0,
        gt=0,
        description="chunk duration (s); records of stamped readings (no sample rate) are cut into windows of "
        "this duration from their first reading",
        json_schema_extra=CHANGES_NUMBERS,
    )
    chunk_readings: int | None = Field(
        None,
        gt=0,
        description="chunks of this many readings (samples) each, for every record, instead of chunk_seconds "
        "(slow DTS/DSS readings at irregular times are best cut so)",
        json_schema_extra=CHANGES_NUMBERS,
    )
    store: str | None = Field(None, description="chunk store URL (ingest writes it, process reads it)")
    format: str | None = Field(
        None, description="force this format instead of detecting by content", json_schema_extra=CHANGES_NUMBERS
    )
    sample_rate: float | None = Field(
        None, gt=0, description="override the sample rate of every record (Hz)", json_schema_extra=CHANGES_NUMBERS
    )
    assumed_sample_rate: float | None = Field(
        None,
        gt=0,
        description="sample rate for records that do not state one (distpy's prf)",
        json_schema_extra=CHANGES_NUMBERS,
    )
    geometry: GeometryConfig | None = Field(
        None,
        description="channel geometry table (channel -> X, Y, Z CSV) attached to every record",
        json_schema_extra=CHANGES_NUMBERS,
    )
    quicklook: bool = Field(True, description="render quicklook.png of written band energies")
    nan_policy: NanPolicy = Field(
        "propagate",
        description="NaN and infinite samples, counted per chunk and reported: 'propagate' computes with them "
        "(results they reach are NaN), 'zero' sets them to 0 first, 'fail' fails the chunk",
    )
    output_layout: Literal["records", "distpy"] = Field(
        "records",
        description="'records': <directory_out>/<recording>/<unixtime>.<ext>; 'distpy': <directory_out>/<unixtime>."
        "<ext> where no two chunks start at the same time and all recordings share one channel layout (else "
        "per-recording folders, with a warning). distpy system configs use 'distpy'",
    )
    resume: Literal["auto", "never"] = Field(
        "auto",
        description="'auto': skip a chunk whose outputs the results manifest vouches for (same inputs, graph and "
        "settings); 'never': recompute everything",
    )
    settle_seconds: float = Field(
        5.0,
        ge=0,
        description="raydas watch: a file is taken once its size and modification time have not changed for this "
        "long (s); 0 takes it once unchanged over two listings",
    )
    ray: RayOptions = Field(default_factory=RayOptions)
    limits: Limits = Field(default_factory=Limits)
    catalogue: str | None = Field(
        None,
        description="catalogue URL (raydas index) whose records in [start, end) are run, instead of scanning input",
    )
    start: str | None = Field(None, description="start of the span taken from the catalogue (ISO-8601, UTC)")
    end: str | None = Field(None, description="end of the span taken from the catalogue (ISO-8601, UTC; excluded)")

    @field_validator("input")
    @classmethod
    def _not_empty(cls, value):
        if value is not None and not value:
            raise ValueError("input is empty")
        return value

    @model_validator(mode="before")
    @classmethod
    def _no_input_with_catalogue(cls, data):
        if isinstance(data, dict) and data.get("catalogue") is not None and "input" not in data:
            data = dict(data, input=None)  # a catalogue run: input may be left out (and is then missing for no one)
        return data

    @model_validator(mode="after")
    def _input_or_catalogue(self):
        if self.catalogue is None:
            if self.input is None:
                raise ValueError("input is missing: give input (files, folder, glob, URL), or catalogue, start and end")
            if self.start is not None or self.end is not None:
                raise ValueError("start and end select a span of a catalogue: give catalogue too")
        elif self.start is None or self.end is None:
            raise ValueError("a catalogue run needs the span: start and end (ISO-8601, UTC)")
        return self

    @field_validator("input", "output", "processing", "store", "catalogue")
    @classmethod
    def _no_credentials_in_urls(cls, value):
        return _no_credentials(value)

    @field_validator("chunk_seconds")
    @classmethod
    def _plausible_duration(cls, value):
        return plausible.duration(value, "chunk_seconds")

    @field_validator("chunk_readings")
    @classmethod
    def _plausible_readings(cls, value):
        return value if value is None else plausible.count(value, "chunk_readings")

    @field_validator("sample_rate", "assumed_sample_rate")
    @classmethod
    def _plausible_rate(cls, value, info):
        return value if value is None else plausible.sample_rate(value, info.field_name)


def numeric_settings(config: RunConfig) -> dict[str, Any]:
    """The settings of ``config`` that change the numbers a run computes (the keys
    marked ``changes_numbers``), by key; the results manifest keeps their digest."""
    return {
        name: getattr(config, name)
        for name, f in RunConfig.model_fields.items()
        if (f.json_schema_extra or {}).get("changes_numbers")
    }


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
        and (is_secret_name(last) or last in ("storage_options", "client_kwargs"))
    ):
        return ConfigError(json_path(err["loc"]), CREDENTIALS_ADVICE, source)
    return validation_error(exc, source)


def apply_overrides(model: BaseModel, overrides: dict[str, Any], names: dict[str, str] | None = None) -> BaseModel:
    """``model`` (a :class:`RunConfig` or :class:`RayOptions`) with ``overrides`` applied,
    validated exactly as the same keys in a config file are.

    Parameters
    ----------
    model
        The config as loaded.
    overrides
        Dotted keys (``"output"``, ``"ray.num_actors"``) and their new values.
    names
        What to call a dotted key in an error, e.g. the command-line flag
        (``{"ray.num_actors": "--num-actors"}``); default: its JSON path.

    Returns
    -------
    BaseModel
        A new, validated model of the same type.

    Raises
    ------
    ConfigError
        At the flag (or JSON path) of the first value refused; the value itself is
        not repeated (it may be a URL with credentials).
    """
    if not overrides:
        return model
    doc = model.model_dump()
    for dotted, value in overrides.items():
        *parents, last = dotted.split(".")
        target = doc
        for part in parents:
            target = target[part]
        target[last] = value
    try:
        return type(model).model_validate(doc)
    except ValidationError as exc:
        err = _validation_error(exc, None)
        dotted = err.json_path.removeprefix("$.")
        raise ConfigError((names or {}).get(dotted, err.json_path), err.problem) from None


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
        return RunConfig(
            input=in_dir,
            output=out_dir,
            processing=config,
            assumed_sample_rate=prf,
            output_layout="distpy",
            ray=ray,
        )
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
        if cfg.catalogue is not None:
            cfg = cfg.model_copy(update={"catalogue": resolve_path(base, cfg.catalogue)})
        resolved = [resolve_path(base, i) for i in inputs]
        cfg = cfg.model_copy(
            update={
                "input": resolved if isinstance(cfg.input, list) else resolved[0],
                "output": resolve_path(base, cfg.output),
                "store": resolve_path(base, cfg.store),
                "processing": resolve_path(base, cfg.processing) if isinstance(cfg.processing, str) else cfg.processing,
                "geometry": cfg.geometry
                and cfg.geometry.model_copy(update={"file": resolve_path(base, cfg.geometry.file)}),
            }
        )
    return cfg
