"""Where results go: every file a pipeline writes lies under one results root.

Paths from configs (``directory_out``) are relative to that root and may not
leave it: absolute paths, ``..``, ``~``, backslashes and URL schemes are
rejected.
"""

from __future__ import annotations

import posixpath
import re

from .fsutil import join, url_to_fs, write_bytes_atomic

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def safe_relative(path: str) -> str:
    """Normalise a results-relative path, or raise ValueError if it could escape the root."""
    text = str(path).strip()
    if not text:
        return ""
    if "\\" in text or "\x00" in text:
        raise ValueError(f"{path!r}: backslashes and NUL are not allowed in output paths")
    if _SCHEME.match(text):
        raise ValueError(f"{path!r}: output paths are relative to the results root, not URLs")
    if text.startswith(("/", "~")):
        raise ValueError(f"{path!r}: output paths are relative to the results root, not absolute")
    norm = posixpath.normpath(text)
    if norm == ".." or norm.startswith("../") or "/../" in f"/{norm}/":
        raise ValueError(f"{path!r}: output paths may not leave the results root ('..')")
    return "" if norm == "." else norm


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
        fs, root = url_to_fs(self.root)
        found: set[str] = set()
        by_folder: dict[str, list[str]] = {}
        for rel in relatives:
            by_folder.setdefault(posixpath.dirname(rel), []).append(rel)
        for folder, rels in by_folder.items():
            path = posixpath.join(root, folder) if folder else root
            try:
                names = {posixpath.basename(p) for p in fs.ls(path, detail=False)}
            except (FileNotFoundError, NotADirectoryError):
                continue
            found.update(r for r in rels if posixpath.basename(r) in names)
        return found
