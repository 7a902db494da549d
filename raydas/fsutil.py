"""File-system helpers over fsspec: every path raydas touches may be a local
path or any fsspec URL (``file://``, ``memory://``, ``s3://``, ``gs://`` ...)."""

from __future__ import annotations

import io
import os
import posixpath
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import fsspec
from fsspec.implementations.local import LocalFileSystem

from .errors import NoMatch

GLOB_CHARS = set("*?[")
#: the failure report's file name, under the results root (:mod:`raydas.runtime.report`)
FAILURE_REPORT = "raydas-failures.json"
#: the results manifest's folder, under the results root or the chunk store (:mod:`raydas.manifest`)
MANIFEST_DIR = "raydas-manifest"
#: the folder of a reducing graph's checkpoints and stack provenance under the results root (:mod:`raydas.reduction`)
REDUCE_DIR = "raydas-reduce"
#: files and folders raydas writes about a run beside its outputs: never input data, so
#: folder walks and globs pass over them (a run reading a folder an earlier run wrote into)
RUN_RECORDS = frozenset({FAILURE_REPORT, MANIFEST_DIR, REDUCE_DIR})


_LOCAL_FS: LocalFileSystem | None = None


def url_to_fs(url: str):
    """Return ``(filesystem, path)`` for a local path or fsspec URL.

    An absolute local path (POSIX, no protocol, no chaining) takes a short way to the
    same answer as :func:`fsspec.core.url_to_fs` (the local file system, the path
    without trailing slashes): a scan of thousands of files resolves each path several times."""
    global _LOCAL_FS
    url = str(url)
    if os.sep == "/" and url.startswith("/") and "::" not in url and "://" not in url:
        if _LOCAL_FS is None:
            _LOCAL_FS = LocalFileSystem()
        return _LOCAL_FS, url.rstrip("/") or "/"
    fs, path = fsspec.core.url_to_fs(url)
    return fs, path


def is_local(fs) -> bool:
    return isinstance(fs, LocalFileSystem)


def join(base: str, *parts: str) -> str:
    """Join URL/path parts with '/' (works for local paths and URLs)."""
    out = str(base).rstrip("/")
    for p in parts:
        p = str(p).strip("/")
        if p:
            out = f"{out}/{p}"
    return out


def unstrip(fs, path: str) -> str:
    """Turn a filesystem path back into a URL that ``url_to_fs`` understands."""
    if is_local(fs):
        return path
    return fs.unstrip_protocol(path)


def basename(url: str) -> str:
    return posixpath.basename(str(url).rstrip("/"))


def exists(url: str) -> bool:
    fs, path = url_to_fs(url)
    return fs.exists(path)


def makedirs(url: str) -> None:
    fs, path = url_to_fs(url)
    fs.makedirs(path, exist_ok=True)


def write_bytes_atomic(url: str, payload) -> None:
    """Write ``payload`` to ``url`` so that no partial file is ever visible
    under the final name.

    ``payload`` is bytes (or any buffer), or a list of buffers written one
    after the other (so a header and a large array need not be joined in memory
    first).

    Local files: write a temporary file in the same folder, then ``os.replace``
    (atomic on POSIX). Object stores: one PUT, which becomes visible only once
    complete.
    """
    parts = payload if isinstance(payload, (list, tuple)) else [payload]
    fs, path = url_to_fs(url)
    if is_local(fs):
        folder = os.path.dirname(path) or "."
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f".{os.path.basename(path)}.tmp-{uuid.uuid4().hex}")
        try:
            with open(tmp, "wb") as fh:
                for part in parts:
                    fh.write(part)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    else:
        parent = posixpath.dirname(path)
        if parent:
            try:
                fs.makedirs(parent, exist_ok=True)
            except Exception:  # object stores need no folders
                pass
        fs.pipe_file(path, parts[0] if len(parts) == 1 else b"".join(parts))


def remove_stale_temporaries(url: str) -> None:
    """Remove the temporary files of ``url`` that :func:`write_bytes_atomic` left
    behind when its writer was killed mid-write (a processor actor killed while
    it wrote); call it once the file is complete under its final name. Object
    stores never hold such files (one PUT per file)."""
    fs, path = url_to_fs(url)
    if not is_local(fs):
        return
    prefix = f".{os.path.basename(path)}.tmp-"
    try:
        with os.scandir(os.path.dirname(path) or ".") as entries:
            stale = [e.path for e in entries if e.name.startswith(prefix)]
    except OSError:
        return
    for leftover in stale:
        try:
            os.remove(leftover)
        except OSError:  # another process removed or renamed it first
            pass


@contextmanager
def atomic_writer(url: str) -> Iterator[io.BytesIO]:
    """Context manager yielding a buffer written atomically to ``url`` on success."""
    buf = io.BytesIO()
    yield buf
    write_bytes_atomic(url, buf.getvalue())


def input_root(item: str) -> str:
    """The folder an input names its files under (a URL, or a local path): the
    folder itself, the part of a glob before its first wildcard, or a file's folder."""
    item = str(item)
    fs, path = url_to_fs(item)
    wild = [path.index(c) for c in GLOB_CHARS if c in path]
    if wild:
        root = posixpath.dirname(path[: min(wild)])
    elif fs.isdir(path):
        root = path.rstrip("/") or "/"
    else:
        root = posixpath.dirname(path.rstrip("/"))
    return unstrip(fs, root)


def expand(spec: str | list[str], keep_whole: Callable[..., bool] | None = None) -> list[str]:
    """Expand a path, glob, folder or list of them into URLs, sorted within each item.

    Parameters
    ----------
    spec
        A path or URL, a glob (``*``, ``?``, ``[``), a folder, or a list of them.
    keep_whole
        Called as ``keep_whole(url, entries)`` for every folder met while walking a
        folder (``entries``: the folder's fsspec listing when the walk has it, else
        None); when it returns true, that folder stays one entry and is not walked
        (a chunk store that a format reads as a whole). ``None``: every folder is walked.

    Returns
    -------
    list of str
        File URLs (hidden files and folders, and raydas's own run records
        such as the failure report and the results manifest, excluded from
        walks and globs), and the
        folders ``keep_whole`` kept.

    Raises
    ------
    NoMatch
        When a glob matches no file: an input named but not found is never dropped silently.
    """
    return [url for url, _ in expand_with_info(spec, keep_whole, detail=False)]


def expand_with_info(
    spec: str | list[str], keep_whole: Callable[..., bool] | None = None, detail: bool = True
) -> list[tuple[str, dict | None]]:
    """:func:`expand`, with each URL's listing entry (fsspec's ``info``: ``size``,
    ``mtime`` or ``LastModified``, ``ETag`` on object stores) taken from the same
    listing, so that no file is stat'ed twice.

    A folder kept whole gets a summary entry: ``type`` ``"directory"``, ``size``
    the total of its files and ``mtime`` the latest of theirs (s). With
    ``detail=False`` every entry is None (a plain :func:`expand`).

    Returns
    -------
    list of (str, dict or None)
        As :func:`expand`, with the entries.
    """
    specs = [spec] if isinstance(spec, (str, os.PathLike)) else list(spec)
    out: list[tuple[str, dict | None]] = []
    for item in specs:
        item = str(item)
        fs, path = url_to_fs(item)
        if GLOB_CHARS & set(path):
            if detail:
                found = [
                    (unstrip(fs, p), info)
                    for p, info in sorted(fs.glob(path, detail=True).items())
                    if info.get("type") != "directory" and not _run_record(p)
                ]
            else:
                found = [
                    (unstrip(fs, p), None) for p in sorted(fs.glob(path)) if not fs.isdir(p) and not _run_record(p)
                ]
            if not found:
                raise NoMatch(item)
            out.extend(found)
        elif fs.isdir(path):
            out.extend(_walk_folder(fs, path, keep_whole, detail))
        else:
            out.append((item, fs.info(path) if detail else None))
    return out


def folder_summary(fs, path: str) -> dict:
    """One listing entry for a whole folder: total ``size`` of its files (bytes) and
    the latest ``mtime`` among them (s since epoch; 0 when none says)."""
    size, latest = 0, 0.0
    for info in fs.find(path, detail=True).values():
        size += int(info.get("size") or 0)
        latest = max(latest, modified_ns(info) / 1e9)
    return {"name": path, "type": "directory", "size": size, "mtime": latest}


def modified_ns(info: dict) -> int:
    """The modification time of a listing entry as ns since epoch (UTC), 0 when the
    entry has none (local ``mtime`` in s, object stores' ``LastModified`` /
    ``last_modified`` / ``updated`` as datetimes or ISO text)."""
    import datetime as _dt

    for name in ("mtime", "LastModified", "last_modified", "updated", "modified", "created"):
        value = info.get(name)
        if value is None or value == "":
            continue
        if isinstance(value, (int, float)):
            return int(round(float(value) * 1e9))
        if isinstance(value, str):
            try:
                value = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
        if isinstance(value, _dt.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=_dt.UTC)
            return int(value.timestamp()) * 1_000_000_000 + value.microsecond * 1000
    return 0


def entity_tag(info: dict) -> str:
    """An object store's version tag of a listing entry (S3 ``ETag``, GCS ``md5Hash``/
    ``generation``, Azure ``etag``) without quotes, ``""`` when it has none (local files)."""
    for name in ("ETag", "etag", "md5Hash", "generation"):
        value = info.get(name)
        if value not in (None, ""):
            return str(value).strip('"')
    return ""


def _walk_folder(fs, path: str, keep_whole: Callable[..., bool] | None, detail: bool) -> list[tuple[str, dict | None]]:
    """Files below ``path``; a folder that ``keep_whole`` accepts stays one entry.

    ``keep_whole(url, entries)`` gets the folder's listing (fsspec ``ls`` entries of
    its files and sub-folders) when the walk has it (``detail``), else None. A local
    folder is walked with :func:`os.scandir` (one ``stat`` per entry, the same
    entries as fsspec's)."""
    found: list[tuple[str, dict | None]] = []
    walk = _walk_local(path) if detail and is_local(fs) else fs.walk(path, detail=detail)
    for root, dirs, files in walk:
        if keep_whole is not None:
            entries = [*dirs.values(), *files.values()] if detail else None
            if keep_whole(unstrip(fs, root), entries):
                found.append((unstrip(fs, root), folder_summary(fs, root) if detail else None))
                dirs.clear()
                continue
        if detail:
            for d in [d for d in dirs if d.startswith(".") or d in RUN_RECORDS]:
                del dirs[d]
            local = is_local(fs)  # a local entry's name is its path (root/f)
            found.extend(
                (info["name"] if local else unstrip(fs, posixpath.join(root, f)), info)
                for f, info in sorted(files.items())
                if not f.startswith(".") and f not in RUN_RECORDS  # f: a name, no folders
            )
        else:
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in RUN_RECORDS)
            found.extend(
                (unstrip(fs, posixpath.join(root, f)), None)
                for f in sorted(files)
                if not f.startswith(".") and not _run_record(f)
            )
    return sorted(found, key=lambda item: item[0])


def _local_info(entry: os.DirEntry) -> dict:
    """fsspec's ``LocalFileSystem.info`` of a scanned entry (the same keys and values),
    without its per-call path handling."""
    out = entry.stat(follow_symlinks=False)
    link = entry.is_symlink()
    if entry.is_dir(follow_symlinks=False):
        kind = "directory"
    elif entry.is_file(follow_symlinks=False):
        kind = "file"
    else:
        kind = "other"
    size = out.st_size
    if link:
        try:
            size = entry.stat(follow_symlinks=True).st_size
        except OSError:
            size = 0
    info = {
        "name": entry.path,
        "size": size,
        "type": kind,
        "created": getattr(out, "st_birthtime", out.st_ctime),
        "islink": link,
        "mode": out.st_mode,
        "uid": out.st_uid,
        "gid": out.st_gid,
        "mtime": out.st_mtime,
        "ino": out.st_ino,
        "nlink": out.st_nlink,
    }
    if link:
        info["destination"] = os.readlink(entry.path)
    return info


def _walk_local(path: str) -> Iterator[tuple[str, dict, dict]]:
    """``fs.walk(path, detail=True)`` of a local folder (top down; the caller may
    remove names from ``dirs``), with :func:`os.scandir`: a listing of thousands of
    files costs one ``stat`` each and little Python."""
    path = path.rstrip("/") or "/"
    dirs: dict[str, dict] = {}
    files: dict[str, dict] = {}
    try:
        with os.scandir(path) as it:
            for entry in it:
                try:
                    info = _local_info(entry)
                except FileNotFoundError:  # gone since the listing
                    continue
                (dirs if info["type"] == "directory" else files)[entry.name] = info
    except OSError:  # as fsspec's walk: a folder that cannot be listed is empty
        return
    yield path, dirs, files
    for name in list(dirs):
        if name in dirs:
            yield from _walk_local(dirs[name]["name"])


def _run_record(path: str) -> bool:
    """True for a file raydas wrote about a run, or one inside such a folder
    (:data:`RUN_RECORDS`: the failure report, the results manifest), not data."""
    return any(part in RUN_RECORDS for part in str(path).split("/"))
