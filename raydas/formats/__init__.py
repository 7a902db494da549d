"""Format registry: readers are chosen by the content of a file, not its name.

Each format is a small class in its own module (``segy``, ``prodml``,
``chunkstore``, ...) registered here with :func:`register`. Third-party
packages add formats through the ``raydas.formats`` entry-point group, each
entry point naming a :class:`Format` subclass.

A *source* is a format whose records are not files but a URL scheme, such as
``synthetic://?seconds=60`` (:mod:`raydas.formats.synthetic`); it registers
with :func:`register_source` and :func:`scan` hands it the URLs of its scheme.
What a scan may override (the format, the sample rate) is a
:class:`ScanOptions`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from .. import fsutil
from ..chunk import Chunk
from ..errors import FormatError, NotDataError, RaydasError
from ..geometry import ChannelGeometry, looks_like_geometry
from ..plugins import load_modules_and_plugins
from . import isolation
from .base import Format, Probe, RecordInfo

log = logging.getLogger(__name__)

_FORMATS: dict[str, Format] = {}
_BUILTIN_MODULES = (
    "chunkstore",
    "prodml",
    "neubrex",
    "neubrex_rfs",
    "febus_dts",
    "febus_g1",
    "gdr",
    "dasdae",
    "xdas",
    "dasvader",
    "silixa",
    "terra15",
    "febus",
    "apsensing",
    "optodas",
    "segy",
    "witsml",
    "tdms",
    "mseed",
    "sintela",
    "sentek",
    "sor",
    "bandtable",
    "las",
    "csvtable",
    # found by structure (one 2-D data set + coordinates), so tried after every vendor's HDF5 reader: keep it last
    "h5simple",
    "synthetic",
)
#: URL scheme -> name of the registered source that serves it (``"synthetic"`` -> ``"synthetic"``)
_SOURCES: dict[str, str] = {}
_loaded = False


def register(cls: type[Format]) -> type[Format]:
    """Class decorator adding a format reader to the registry."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    _FORMATS[cls.name] = cls()
    return cls


def register_source(scheme: str):
    """Class decorator registering a source: a format whose records come from URLs
    ``<scheme>://...`` rather than from files (e.g. ``synthetic``).

    The class implements ``scan_url(url) -> list[RecordInfo]`` (metadata of the
    records the URL stands for) and ``read_samples`` like any format;
    :func:`scan` hands it every URL of its scheme.
    """

    def add(cls: type[Format]) -> type[Format]:
        register(cls)
        _SOURCES[scheme] = cls.name
        return cls

    return add


def source_for(url) -> Format | None:
    """The registered source serving ``url``'s scheme, or None when ``url`` names files."""
    if not isinstance(url, str) or "://" not in url:
        return None
    _load()
    name = _SOURCES.get(url.split("://", 1)[0])
    return _FORMATS[name] if name else None


@dataclass(frozen=True)
class ScanOptions:
    """What a scan may override in the metadata the files give.

    Attributes
    ----------
    format
        Read every file as this format instead of detecting it by content.
    sample_rate
        Sample rate of every record (Hz), replacing what the files say.
    assumed_sample_rate
        Sample rate (Hz) of the records whose format does not state one
        (:attr:`Format.states_sample_rate` False, e.g. distpy's npy folders);
        distpy's ``prf``.
    geometry
        A channel geometry table (:func:`raydas.geometry.read_geometry`): each
        record's channels get its X, Y, Z (``record.attrs["channel_xyz"]``,
        ``(n_channels, 3)``, NaN where the table has none).
    first_channel
        The table's channel number of each record's first channel (the next
        channels count up from it).
    """

    format: str | None = None
    sample_rate: float | None = None
    assumed_sample_rate: float | None = None
    geometry: ChannelGeometry | None = None
    first_channel: int = 0

    @classmethod
    def of(cls, options: ScanOptions | str | None = None, format: str | None = None) -> ScanOptions:
        """``options`` as ScanOptions: a string (or ``format``) is a format name, None the defaults."""
        if isinstance(options, ScanOptions):
            return options if format is None else dataclasses.replace(options, format=format)
        return cls(format=format or options)

    def apply(self, record: RecordInfo) -> RecordInfo:
        """``record`` with its sample interval overridden and its channel
        coordinates attached as these options say (in place); a rate the config
        states is not one raydas assumed (``record.assumed``)."""
        rate = self.sample_rate
        if rate is None and self.assumed_sample_rate and not get_format(record.format).states_sample_rate:
            rate = self.assumed_sample_rate
        if rate is not None:
            record.dt = 1.0 / rate
            record.assumed = tuple(a for a in record.assumed if a != "sample_rate")
        if self.geometry is not None:
            record.attrs["channel_xyz"] = self.geometry.at(self.first_channel + np.arange(record.n_channels))
            record.attrs["geometry"] = self.geometry.source
            record.attrs["geometry_units"] = tuple(self.geometry.units)
        return record


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    load_modules_and_plugins(__name__, _BUILTIN_MODULES, "raydas.formats", register)


def all_formats() -> dict[str, Format]:
    """All registered readers by name, in detection order."""
    _load()
    return dict(_FORMATS)


def get_format(name: str) -> Format:
    _load()
    try:
        return _FORMATS[name]
    except KeyError:
        raise RaydasError(f"unknown format {name!r}; known formats: {', '.join(_FORMATS)}") from None


def detect(url: str) -> Format:
    """The reader that recognises the content of ``url``.

    Raises
    ------
    FormatError
        When no reader recognises it (or it cannot be opened).
    """
    with Probe(url) as probe:
        return detect_probe(probe)


def detect_probe(probe: Probe) -> Format:
    """The reader that recognises the probed input (see :func:`detect`); the
    probe's first bytes and open HDF5 file are then handed on to its scan.

    Raises
    ------
    FormatError
        When no reader recognises it: a damaged file (its name or first bytes
        claim a format that cannot read it; an HDF5 file whose structure cannot
        be read) says so; :class:`NotDataError` only for a channel geometry
        table, or a document (prose, PDF, image) that claims no data format.
    """
    _load()
    url = probe.url
    try:
        if not probe.is_dir and probe.size == 0:
            raise FormatError(url, "is empty (0 bytes)")
        failed: list[str] = []
        for reader in _FORMATS.values():
            try:
                if reader.detect(probe):
                    return reader
            except FormatError:
                raise
            except Exception as exc:  # detection must never crash a run
                log.debug("%s.detect failed on %s: %s", reader.name, url, exc)
                failed.append(f"{type(exc).__name__}: {exc}")
        unrecognised = _unrecognised(probe, failed)
    except FileNotFoundError:
        raise FormatError(url, "does not exist") from None
    except OSError as exc:
        raise FormatError(url, f"cannot be opened ({exc})") from None
    raise unrecognised


def _unrecognised(probe: Probe, failed: list[str]) -> FormatError:
    """Why no reader recognised the probed file: damaged (its first bytes or its name
    claim a format: that format's own complaint is given), a geometry table or a
    document that is not data (:class:`NotDataError`), or data in no format raydas knows. ``failed``: what
    detection raised on the file's content."""
    url, known = probe.url, ", ".join(_FORMATS)
    if not probe.is_dir and probe.is_hdf5:
        if failed:
            return FormatError(url, f"is a damaged HDF5 file: its structure cannot be read ({failed[0]})")
        return FormatError(url, f"is not in a recognised DAS format: an HDF5 file in no layout raydas reads ({known})")
    if looks_like_geometry(probe.head):
        return NotDataError(
            url,
            "is a channel geometry table (channel -> X, Y, Z), not data: give it to a run with the "
            "'geometry' configuration key",
        )
    claim = next(((r, why) for r in _FORMATS.values() if (why := r.claims(probe))), None)
    if claim is not None:
        reader, why = claim
        return FormatError(url, f"is damaged (not in a recognised DAS format): {why}, but {_complaint(reader, probe)}")
    document = _document_kind(probe.head)
    if document:
        return NotDataError(url, f"is not in a recognised DAS format (it is {document}, not data)")
    return FormatError(url, f"is not in a recognised DAS format (known: {known})")


def _complaint(reader: Format, probe: Probe) -> str:
    """What ``reader`` says is wrong with a file it did not recognise (its scan's error)."""
    try:
        reader.scan(probe)
    except FormatError as exc:
        return f"it cannot be read as such ({exc.problem})"
    except Exception as exc:  # noqa: BLE001  (any complaint will do: the file is refused either way)
        return f"it cannot be read as such ({type(exc).__name__}: {exc})"
    return "its content does not match the format"


#: first bytes of document formats that are never DAS data
_DOCUMENT_MAGIC = {b"%PDF": "a PDF document", b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image"}


def _document_kind(head: bytes) -> str:
    """What kind of document ``head`` (a file's first bytes) starts, or ``""``
    when it may be data. Called only after every reader said no, so text here
    is prose (a README, a licence), not a table some reader knows."""
    for magic, kind in _DOCUMENT_MAGIC.items():
        if head.startswith(magic):
            return kind
    if not head or b"\x00" in head:
        return ""
    for cut in range(4):  # a multi-byte character may be cut at the end of the head
        try:
            text = head[: len(head) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        printable = sum(c.isprintable() or c in "\r\n\t" for c in text)
        if printable < 0.95 * len(text) or _looks_structured(text):
            return ""
        return "a text document"
    return ""


def _looks_structured(text: str) -> bool:
    """True for text that may be a damaged data file rather than prose: XML
    (WITSML), LAS (``~``), JSON, or lines with the same number (> 0) of
    commas, semicolons or tabs (a table)."""
    body = text.lstrip("\ufeff \r\n\t")
    if body[:1] in ("<", "~", "{", "["):
        return True
    lines = [line for line in body.splitlines()[:6] if line.strip()]
    if len(lines) < 2:
        return False
    return any(len({line.count(sep) for line in lines}) == 1 and lines[0].count(sep) > 0 for sep in ",;\t")


def is_container(url: str, entries: list[dict] | None = None) -> bool:
    """True when ``url`` is a folder that a container format reads as a whole.

    Parameters
    ----------
    url
        The folder (or file: then False).
    entries
        The folder's listing when the caller has it (a walk's fsspec ``ls`` entries):
        the detectors look at it instead of listing the folder again.
    """
    _load()
    containers = [r for r in _FORMATS.values() if r.container]
    if not containers:
        return False
    with Probe(url, entries) as probe:
        if not probe.is_dir:
            return False
        return any(_safe_detect(r, probe) for r in containers)


def expand(spec: str | Iterable[str]) -> list[str]:
    """Expand a path, glob, folder or list of them into the URLs to scan: every
    file below a folder (hidden ones excluded), except that a folder a
    container format reads as a whole (a chunk store) stays one entry."""
    return fsutil.expand(spec if isinstance(spec, str) else [str(s) for s in spec], keep_whole=is_container)


def expand_with_info(spec: str | Iterable[str]) -> list[tuple[str, dict]]:
    """:func:`expand`, each URL with its listing entry (size, modification time,
    ETag: :func:`raydas.fsutil.expand_with_info`), from the same listing."""
    return fsutil.expand_with_info(spec if isinstance(spec, str) else [str(s) for s in spec], keep_whole=is_container)


def _safe_detect(reader: Format, probe: Probe) -> bool:
    try:
        return bool(reader.detect(probe))
    except Exception:
        return False


def scan_file(url: str, options: ScanOptions | str | None = None, *, format: str | None = None) -> list[RecordInfo]:
    """Records in one file (or one source URL), with any reader failure turned
    into a FormatError that names the file.

    One :class:`Probe` serves detection and scan: the file's first bytes are
    read once, and an HDF5 file is opened once. HDF5 files (local or remote)
    are scanned in a helper process (:mod:`raydas.formats.isolation`, the probe and its
    first bytes handed over), so a damaged one cannot hang the scan.

    Parameters
    ----------
    url
        The file (or source URL, e.g. ``synthetic://?seconds=10``).
    options
        :class:`ScanOptions`, or a format name (short for ``ScanOptions(format=...)``).
    format
        Format name, as a keyword (short for ``ScanOptions(format=...)``).
    """
    options = ScanOptions.of(options, format)
    source = source_for(url)
    if source is not None:
        records = source.scan_url(url)
    else:
        probe = Probe(url)
        if _is_hdf5_file(probe):
            records = isolation.run_guarded(url, _scan_probe, probe, options.format)
        else:
            records = _scan_probe(probe, options.format)
    return [options.apply(r) for r in records]


def _is_hdf5_file(probe: Probe) -> bool:
    """True for a file (local or remote, not in memory) whose first bytes are HDF5's signature.
    An input that cannot be read is not: its scan then says why."""
    try:
        return isolation.can_isolate(probe.fs) and not probe.is_dir and probe.is_hdf5
    except OSError:
        return False


def _scan_probe(probe: Probe, format: str | None) -> list[RecordInfo]:
    """Detect (unless ``format`` names the reader) and scan with the one probe, then close it."""
    with probe:
        reader = get_format(format) if format else detect_probe(probe)
        try:
            return reader.scan(probe)
        except RaydasError:
            raise
        except Exception as exc:
            raise FormatError(probe.url, f"could not be scanned as {reader.name}: {type(exc).__name__}: {exc}") from exc


@dataclass
class ScanResult:
    """What a scan of many inputs found (:func:`scan_all`; the archive catalogue
    that ``raydas index`` keeps is :class:`raydas.catalogue.Catalogue`).

    Attributes
    ----------
    records
        Every record, time-ordered.
    failures
        One error per data file that could not be scanned.
    not_data
        Files met in a folder or glob that are documents, not data (README,
        licence texts): neither records nor failures. A document named
        explicitly is a failure.
    """

    records: list[RecordInfo] = field(default_factory=list)
    failures: list[FormatError] = field(default_factory=list)
    not_data: list[NotDataError] = field(default_factory=list)


def scan_all(
    spec: str | Iterable[str], options: ScanOptions | str | None = None, *, format: str | None = None
) -> ScanResult:
    """Scan a path, glob, folder, source URL or list of them into a
    :class:`ScanResult` (the others are still scanned when one file fails);
    ``options`` as in :func:`scan_file`."""
    options = ScanOptions.of(options, format)
    found = ScanResult()
    specs = [spec] if isinstance(spec, str) else [str(s) for s in spec]
    urls = [s for s in specs if source_for(s) is not None]
    for item in specs:
        if item not in urls:
            with _unreachable_as_failure(item, found):
                urls.extend(expand(item))
    if not urls:
        if found.failures:  # every input was unreachable: say why
            raise RaydasError(str(found.failures[0]))
        raise RaydasError(f"no files match {spec!r}")
    for url in urls:
        try:
            with _unreachable_as_failure(url, found):
                found.records.extend(scan_file(url, options))
        except NotDataError as exc:  # a document met while walking a folder is skipped; one asked for is a failure
            (found.failures if url in specs else found.not_data).append(exc)
        except FormatError as exc:
            found.failures.append(exc)
    found.records.sort(key=lambda r: (r.start_ns, r.path, r.key))
    return found


@contextlib.contextmanager
def _unreachable_as_failure(url: str, found: ScanResult):
    """An input that cannot be listed or reached (connection refused, no such
    endpoint, permission denied) becomes a failure naming it, not a traceback;
    the project's own errors pass through."""
    try:
        yield
    except RaydasError:
        raise
    except Exception as exc:  # noqa: BLE001  (network and file-system clients raise many types)
        found.failures.append(FormatError(url, f"cannot be reached or listed ({type(exc).__name__}: {exc})"))


def scan(
    spec: str | Iterable[str], options: ScanOptions | str | None = None, *, format: str | None = None
) -> tuple[list[RecordInfo], list[FormatError]]:
    """Scan a path, glob, folder, source URL (``synthetic://...``) or list of them.

    Parameters
    ----------
    spec
        What to scan.
    options
        :class:`ScanOptions` (format, sample-rate overrides), or a format name.
    format
        Format name, as a keyword (short for ``ScanOptions(format=...)``).

    Returns
    -------
    records, failures
        Every record found, time-ordered, and one error per data file that
        could not be scanned (the others are still scanned). Documents that
        are not data (README, licences) are in neither; see :func:`scan_all`.

    Examples
    --------
    Write one second of four channels at 500 Hz as SEG-Y, and a file named like
    SEG-Y that is no recording (a damaged file, named as a failure); scan both
    (formats are told by content, only headers are read):

    >>> import numpy as np
    >>> import raydas
    >>> data = np.zeros((4, 500), dtype=np.float32)  # (channel, time)
    >>> chunk = raydas.Chunk(data, data_start_ns=1_700_000_000 * 10**9, dt=0.002, positions=[0.0, 2.0, 4.0, 6.0])
    >>> raydas.formats.write(chunk, "example.sgy")
    ['example.sgy']
    >>> with open("broken.sgy", "wb") as f:
    ...     _ = f.write(bytes(5000))
    >>> records, failures = raydas.scan(["example.sgy", "broken.sgy"])
    >>> r = records[0]
    >>> r.format, r.n_channels, r.n_samples, r.sample_rate, r.channel_spacing
    ('segy', 4, 500, 500.0, 2.0)
    >>> r.to_dict()["start"], r.to_dict()["end"]
    ('2023-11-14T22:13:20.000000Z', '2023-11-14T22:13:21.000000Z')
    >>> print(failures[0])  # doctest: +ELLIPSIS
    broken.sgy: is damaged (not in a recognised DAS format): its name ends in .sgy, as segy data do, but ...

    A source URL stands for data generated on the fly:

    >>> records, _ = raydas.scan("synthetic://?seconds=2&rate=500&channels=8")
    >>> records[0].n_channels, records[0].n_samples
    (8, 1000)
    """
    found = scan_all(spec, options, format=format)
    return found.records, found.failures


def read_samples(record: RecordInfo, start: int, stop: int, channels: slice = slice(None)):
    """Samples ``[start, stop)`` of a scanned record, errors naming the file."""
    reader = get_format(record.format)
    try:
        return reader.read_samples(record, start, stop, channels)
    except RaydasError:
        raise
    except Exception as exc:
        raise FormatError(
            record.path, f"samples {start}:{stop} could not be read as {reader.name}: {type(exc).__name__}: {exc}"
        ) from exc


def read(url: str, start_ns: int | None = None, end_ns: int | None = None, format: str | None = None) -> Chunk:
    """Read a time window of one file as a :class:`Chunk` (format detected by
    content; one probe serves detection and scan).

    Parameters
    ----------
    url
        A local path or fsspec URL of one file.
    start_ns, end_ns
        The window ``[start_ns, end_ns)``, ns since 1970-01-01 UTC; the whole
        file where None.
    format
        Format name, to skip detection.

    Returns
    -------
    Chunk
        The samples as float32 ``(channel, time)``, with their coordinates.

    Examples
    --------
    >>> import numpy as np
    >>> import raydas
    >>> t0 = 1_700_000_000 * 10**9  # ns, UTC
    >>> data = np.arange(4 * 500, dtype=np.float32).reshape(4, 500)  # 4 channels, 1 s at 500 Hz
    >>> raydas.formats.write(raydas.Chunk(data, t0, dt=0.002, positions=[0.0, 2.0, 4.0, 6.0]), "example.sgy")
    ['example.sgy']
    >>> chunk = raydas.read("example.sgy", start_ns=t0 + 100_000_000, end_ns=t0 + 200_000_000)  # 0.1 s to 0.2 s
    >>> chunk.data.shape, chunk.data.dtype, chunk.sample_rate
    ((4, 50), dtype('float32'), 500.0)
    >>> chunk.start_ns - t0, chunk.positions.tolist()
    (100000000, [0.0, 2.0, 4.0, 6.0])
    >>> bool((chunk.data == data[:, 50:100]).all())
    True
    """
    with Probe(url) as probe:
        reader = get_format(format) if format else detect_probe(probe)
        return reader.read(probe, start_ns, end_ns)


def writers() -> dict[str, Format]:
    """The registered formats that can write, by name."""
    _load()
    return {name: r for name, r in _FORMATS.items() if r.writes and r.extensions}


def write(data, url: str, format: str | None = None, **options) -> list[str]:
    """Write a :class:`Chunk` (or, for band-energy formats, a mapping of curve
    name to Chunk) to any fsspec URL, in ``format`` or the format its name
    ending says (``.sgy``, ``.h5``, ``.fbe``, ``.parquet``, ...).

    Returns
    -------
    list of str
        The URLs written.

    Examples
    --------
    >>> import numpy as np
    >>> import raydas
    >>> chunk = raydas.Chunk(np.ones((2, 100), np.float32), data_start_ns=0, dt=0.001, positions=[10.0, 11.0])
    >>> raydas.formats.write(chunk, "ones.sgy")
    ['ones.sgy']
    >>> float(raydas.read("ones.sgy").data.sum())
    200.0
    """
    if format:
        writer = get_format(format)
    else:
        name = str(url).rstrip("/").lower()
        matches = [r for r in writers().values() if any(name.endswith(e) for e in r.extensions)]
        if not matches:
            known = ", ".join(f"{n} ({'/'.join(r.extensions)})" for n, r in writers().items())
            raise RaydasError(f"cannot tell the format to write {url!r} from its name; pass format= one of: {known}")
        writer = matches[0]
    chunks = data.values() if isinstance(data, dict) else [data]
    if any(getattr(c, "times_ns", None) is not None for c in chunks):
        raise RaydasError(
            f"cannot write {url!r} as {writer.name}: the data carry their own irregular time stamps "
            "(Chunk.times_ns), and the format stores a regular sample interval that raydas would have to invent"
        )
    return writer.write(data, url, **options)


__all__ = [
    "ScanResult",
    "Format",
    "Probe",
    "RecordInfo",
    "ScanOptions",
    "all_formats",
    "scan_all",
    "detect",
    "detect_probe",
    "expand",
    "expand_with_info",
    "get_format",
    "is_container",
    "read",
    "read_samples",
    "register",
    "register_source",
    "scan",
    "scan_file",
    "source_for",
    "write",
    "writers",
]
