"""Where results go: every file a pipeline writes lies under one results root.

Paths from configs (``directory_out``, distpy's ``project``/``results``) are
relative to that root and may not leave it. :func:`safe_relative` is the one
place this is checked: absolute paths, ``..``, ``~``, backslashes, NUL and
control characters, URL schemes (``s3://other-bucket``, ``file://``) and
percent-encoded forms of any of these (``%2e%2e``, ``%2f``) are rejected.
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import unquote

from .errors import ConfigError
from .fsutil import join, url_to_fs, write_bytes_atomic

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")


def _decoded(text: str) -> str:
    """``text`` with percent-escapes decoded until none are left (``%252e`` -> ``%2e`` -> ``.``)."""
    for _ in range(8):
        if not _PERCENT.search(text):
            break
        text = unquote(text)
    return text


def safe_relative(path: str) -> str:
    """Normalise a results-relative path, or raise ValueError if it could escape the root.

    Parameters
    ----------
    path
        A folder or file path relative to the results root, '/'-separated.

    Returns
    -------
    str
        The normalised path ('' for the root itself).

    Raises
    ------
    ValueError
        Saying why the path is refused (pydantic validators turn this into a
        ConfigError naming the JSON path; see :func:`check_output_path`).
    """
    text = str(path).strip()
    if not text:
        return ""
    plain = _decoded(text)
    if plain != text:
        # Object stores and HTTP decode escapes; a folder name never needs one.
        raise ValueError(f"{path!r}: percent-escapes ({plain!r} once decoded) are not allowed in output paths")
    if "\\" in text or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValueError(f"{path!r}: backslashes and control characters are not allowed in output paths")
    if _SCHEME.match(text) or "://" in text:
        raise ValueError(f"{path!r}: output paths are relative to the results root, not URLs")
    if text.startswith(("/", "~")):
        raise ValueError(f"{path!r}: output paths are relative to the results root, not absolute")
    norm = posixpath.normpath(text)
    if norm == ".." or norm.startswith("../") or "/../" in f"/{norm}/":
        raise ValueError(f"{path!r}: output paths may not leave the results root ('..')")
    return "" if norm == "." else norm


def check_output_path(path: str, json_path: str, source: str | None = None) -> str:
    """:func:`safe_relative`, raising :class:`ConfigError` at ``json_path`` instead of ValueError."""
    try:
        return safe_relative(path)
    except ValueError as exc:
        raise ConfigError(json_path, f"{exc} (it must stay inside the results root)", source) from None


class OutputSink:
    """Writes result files under ``root`` (any fsspec URL), atomically."""

    def __init__(self, root: str):
        self.root = str(root).rstrip("/") or "."

    def url(self, relative: str) -> str:
        return join(self.root, safe_relative(relative))

    def write(self, relative: str, payload: bytes) -> str:
        url = self.url(relative)
        write_bytes_atomic(url, payload)
        return url

    def read(self, relative: str) -> bytes:
        """The bytes of a file under the root (e.g. a stored filter).

        Raises
        ------
        FileNotFoundError
            Naming the full URL when there is no such file.
        """
        url = self.url(relative)
        fs, path = url_to_fs(url)
        try:
            with fs.open(path, "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            raise FileNotFoundError(f"{url}: no such file under the results root") from None

    def existing(self, relatives: list[str]) -> set[str]:
        """The subset of ``relatives`` already written (one listing per folder)."""
        return set(self.sizes(relatives))

    def sizes(self, relatives: list[str]) -> dict[str, int]:
        """Bytes of each of ``relatives`` already written (one listing per folder; absent: not there)."""
        fs, root = url_to_fs(self.root)
        found: dict[str, int] = {}
        by_folder: dict[str, list[str]] = {}
        for rel in relatives:
            by_folder.setdefault(posixpath.dirname(rel), []).append(rel)
        for folder, rels in by_folder.items():
            path = posixpath.join(root, folder) if folder else root
            try:
                listing = {posixpath.basename(e["name"].rstrip("/")): e for e in fs.ls(path, detail=True)}
            except (FileNotFoundError, NotADirectoryError):
                continue
            for rel in rels:
                entry = listing.get(posixpath.basename(rel))
                if entry is not None and entry.get("type", "file") != "directory":
                    found[rel] = int(entry.get("size") or 0)
        return found
