"""Where results go: every file a pipeline writes lies under one results root.

Paths from configs (``directory_out``, distpy's ``project``/``results``) are
relative to that root and may not leave it. :func:`safe_relative` is the one
place this is checked: absolute paths, ``..``, ``~``, backslashes, NUL and
control characters, URL schemes (``s3://other-bucket``, ``file://``) and
percent-encoded forms of any of these (``%2e%2e``, ``%2f``) are rejected.

:class:`OutputSink` writes there without following symbolic links: a link
inside the results root (to a folder or a file outside it) is never written
through, so that nothing lands outside the root whatever the root holds.
"""

from __future__ import annotations

import errno
import os
import posixpath
import re
import stat
import uuid
from urllib.parse import unquote

from .errors import ConfigError, OutputPathError
from .fsutil import is_local, join, url_to_fs, write_bytes_atomic

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


#: What raydas itself keeps at the top of a results root: every name that starts with ``raydas-``
#: (the failure report ``raydas-failures.json``, the results manifest...), the quick-look of the
#: band energies and the chunk store's manifest (a chunk store may share the results root).
RESERVED_PREFIX = "raydas-"
RESERVED_NAMES = frozenset({"quicklook.png", "manifest.parquet"})


def check_not_reserved(path: str) -> str:
    """:func:`safe_relative`, refusing also a path whose first part is a name raydas
    keeps at the top of the results root (:data:`RESERVED_PREFIX`, :data:`RESERVED_NAMES`;
    compared without case, as case-insensitive disks do).

    Raises
    ------
    ValueError
        Saying which file the path would take the place of.
    """
    norm = safe_relative(path)
    first = norm.split("/", 1)[0].casefold()
    if first.startswith(RESERVED_PREFIX) or first in RESERVED_NAMES:
        raise ValueError(
            f"{path!r}: {norm.split('/', 1)[0]!r} is a name raydas keeps for its own files at the top of the "
            f"results root (names starting with {RESERVED_PREFIX!r}, {', '.join(sorted(RESERVED_NAMES))}); "
            "choose another"
        )
    return norm


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

    def write(self, relative: str, payload) -> str:
        """Write ``payload`` (bytes, or a list of buffers) to ``relative`` under the root, atomically.

        Returns
        -------
        str
            The URL written.

        Raises
        ------
        OutputPathError
            When a folder on the way, inside the root, is a symbolic link or not a folder
            (local roots; object stores have no links).
        """
        url = self.url(relative)
        fs, root = url_to_fs(self.root)
        if is_local(fs):
            _write_local_no_follow(root, safe_relative(relative), payload, url)
        else:
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
                # a symbolic link is not an output (the sink never writes one): the chunk is redone
                names = {posixpath.basename(e["name"]) for e in fs.ls(path, detail=True) if not e.get("islink")}
            except (FileNotFoundError, NotADirectoryError):
                continue
            found.update(r for r in rels if posixpath.basename(r) in names)
        return found


def _write_local_no_follow(root: str, relative: str, payload, url: str) -> None:
    """Write ``payload`` to ``root/relative`` on a local disk without following a link below ``root``.

    Every folder below the root is opened relative to its parent with ``O_NOFOLLOW``
    (no window for a link to be swapped in between a check and the write); the file is
    written to a temporary name in its folder and renamed over the final name, which
    replaces a link of that name rather than writing to where it points.
    """
    parts = payload if isinstance(payload, (list, tuple)) else [payload]
    *folders, name = relative.split("/")
    os.makedirs(root, exist_ok=True)  # the root itself is the user's choice, link or not
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i, folder in enumerate(folders):
            try:
                os.mkdir(folder, dir_fd=fd)
            except FileExistsError:
                pass
            try:
                inner = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                where = "/".join(folders[: i + 1])
                link = exc.errno == errno.ELOOP or stat.S_ISLNK(
                    os.stat(folder, dir_fd=fd, follow_symlinks=False).st_mode
                )
                problem = (
                    "is a symbolic link; raydas does not write through links (they may lead outside the root): "
                    "remove it, or choose another results root"
                    if link
                    else "is a file, not a folder"
                )
                raise OutputPathError(f"{url}: {where} inside the results root {problem}") from None
            os.close(fd)
            fd = inner
        temporary = f".{name}.tmp-{uuid.uuid4().hex}"
        out = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666, dir_fd=fd)
        try:
            with os.fdopen(out, "wb") as fh:
                for part in parts:
                    fh.write(part)
            os.replace(temporary, name, src_dir_fd=fd, dst_dir_fd=fd)
        except BaseException:
            try:
                os.unlink(temporary, dir_fd=fd)
            except FileNotFoundError:
                pass
            raise
    finally:
        os.close(fd)
