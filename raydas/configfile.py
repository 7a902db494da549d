"""Reading config files: the one JSON loader, pydantic's errors as a
:class:`~raydas.errors.ConfigError` at the JSON path of the culprit, and the
folder that a config file's relative paths are taken from.

Run configs (:mod:`raydas.config`), processing configs
(:mod:`raydas.pipeline`) and plots configs (:mod:`raydas.apps.plot`) all read
their files through here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from .errors import ConfigError
from .fsutil import join, url_to_fs


def load_json(path: str) -> Any:
    """Read a JSON document from a local path or URL.

    Raises
    ------
    ConfigError
        Naming the file, and the line and column of a syntax error.
    """
    fs, p = url_to_fs(path)
    try:
        with fs.open(p, "rb") as fh:
            text = fh.read().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError("$", "file not found", source=path) from None
    except UnicodeDecodeError as exc:
        raise ConfigError("$", f"not UTF-8 text ({exc})", source=path) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            "$", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", source=path
        ) from None
    except RecursionError:
        problem = f"nested deeper than Python's JSON reader can follow (at most {MAX_NESTING} levels are allowed)"
        raise ConfigError("$", problem, source=path) from None
    check_nesting(doc, path)
    return doc


#: deepest nesting of objects and lists a config may have (distpy's configs use about 6)
MAX_NESTING = 64


def check_nesting(doc: Any, source: str | None = None) -> None:
    """Refuse a document nested deeper than :data:`MAX_NESTING` levels, before any
    recursive code (validation, redaction, reports) walks it.

    Raises
    ------
    ConfigError
        At the JSON path where the limit is passed.
    """
    stack = [(doc, "$", 1)]
    while stack:
        node, where, depth = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in items:
            if isinstance(child, (dict, list)):
                path = f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}"
                if depth + 1 > MAX_NESTING:
                    raise ConfigError(path, f"nested deeper than {MAX_NESTING} levels of objects and lists", source)
                stack.append((child, path, depth + 1))


def json_path(loc: Iterable[str | int], root: str = "$") -> str:
    """The JSON path of a pydantic error location: ``("plots", 0, "out_plot")`` -> ``$.plots[0].out_plot``."""
    return root + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)


def validation_error(
    exc: ValidationError, source: str | None = None, root: str = "$", with_input: bool = False
) -> ConfigError:
    """The first error of a pydantic validation as a :class:`ConfigError`.

    Parameters
    ----------
    exc
        What pydantic raised.
    source
        The config file, named in the message.
    root
        JSON path of the object that was validated (``$`` for the whole document).
    with_input
        Add the offending value to the message (never for run configs: their
        values may be URLs with credentials in them).
    """
    err = exc.errors()[0]
    text = err["msg"]
    if err.get("type") in ("value_error", "assertion_error"):  # our own checks: without pydantic's prefix
        text = text.split(", ", 1)[1] if text.startswith(("Value error, ", "Assertion failed, ")) else text
    message = f"{text} (got {err.get('input')!r})" if with_input else text
    return ConfigError(json_path(err["loc"], root), message, source)


def config_folder(path: str) -> str:
    """The folder that the relative paths inside the config file ``path`` are taken from:
    the file's absolute local folder, or its URL without the file name."""
    path = str(path)
    if "://" in path:
        return path.rsplit("/", 1)[0]
    return os.path.dirname(os.path.abspath(os.path.expanduser(path)))


def resolve_path(base: str | None, path: str | None) -> str | None:
    """``path`` taken relative to the folder ``base``, unless it is absolute or a URL
    (``~`` is expanded); None stays None, and without a ``base`` ``path`` is kept as it is."""
    if path is None or base is None:
        return path
    if "://" in path or os.path.isabs(path) or path.startswith("~"):
        return os.path.expanduser(path)
    return join(base, path) if "://" in base else os.path.normpath(os.path.join(base, path))
