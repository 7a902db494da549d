"""What the ``raydas`` command line prints besides its results: raydas's own
messages, once each, in words for people.

* Log records of raydas's loggers at WARNING and above (INFO with ``-v``) are
  printed as ``raydas: <message>``; other libraries' records only from ERROR
  on (everything with ``-v``), as ``raydas: <library>: <message>``.
* Python warnings (a truncated file, unequal trace spans) are printed as
  ``raydas: warning: <message>``, without the file and line of the code that
  raised them, and each distinct message once per process.
* A library that prints its own records through a handler of its own is not
  printed a second time through ours.
* Every line passes through :func:`raydas.config.redact` first (records and
  their tracebacks through :class:`raydas.config.RedactFilter`): messages
  name files and URLs, and a URL may carry a credential.

:func:`configure` sets this up; the Python API leaves logging and warnings to
the caller.
"""

from __future__ import annotations

import logging
import sys
import warnings

from ..config import RedactFilter, redact

#: the prefix of every console line raydas prints about a run
PREFIX = "raydas: "


class _ConsoleFilter(logging.Filter):
    """Lets through raydas's records from ``own_level`` on and other libraries'
    from ``library_level`` on, unless a handler of their own already printed them."""

    def __init__(self, own_level: int, library_level: int):
        super().__init__()
        self.own_level = own_level
        self.library_level = library_level

    def filter(self, record: logging.LogRecord) -> bool:
        own = record.name == "raydas" or record.name.startswith("raydas.")
        if record.levelno < (self.own_level if own else self.library_level):
            return False
        return own or not _printed_by_own_handler(record.name)


def _printed_by_own_handler(name: str) -> bool:
    """True when the logger ``name`` or one of its ancestors (below the root) has a handler of its own."""
    logger = logging.getLogger(name)
    while logger is not None and logger.parent is not None:
        if logger.handlers:
            return True
        if not logger.propagate:
            return False
        logger = logger.parent
    return False


class _ConsoleFormatter(logging.Formatter):
    """``raydas: <message>``, with the library's name for records not raydas's own."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.name == "raydas" or record.name.startswith("raydas."):
            return f"{PREFIX}{message}"
        return f"{PREFIX}{record.name.split('.')[0]}: {message}"


class _ConsoleHandler(logging.StreamHandler):
    """A stream handler printing to ``stream``, or to whatever ``sys.stderr`` is at
    the time of printing (so that a replaced stderr is honoured)."""

    def __init__(self, stream=None):
        super().__init__(stream)
        self._follow_stderr = stream is None

    def emit(self, record: logging.LogRecord) -> None:
        if self._follow_stderr:
            self.stream = sys.stderr
        super().emit(record)


class _WarningsOnce:
    """``warnings.showwarning`` printing each distinct message once, in user form."""

    def __init__(self, stream=None):
        self.stream = stream
        self.shown: set[tuple[type, str]] = set()

    def __call__(self, message, category, filename, lineno, file=None, line=None) -> None:
        text = str(message)
        key = (category, text)
        if key in self.shown:
            return
        self.shown.add(key)
        print(redact(f"{PREFIX}warning: {text}"), file=file or self.stream or sys.stderr, flush=True)


def configure(verbose: bool = False, stream=None) -> None:
    """Route log records and Python warnings to the console (stderr) in user form.

    Parameters
    ----------
    verbose
        Show raydas's INFO records and every library's records from INFO on.
    stream
        Where to print (default: ``sys.stderr`` at the time of printing).
    """
    handler = _ConsoleHandler(stream)
    handler.setFormatter(_ConsoleFormatter())
    handler.addFilter(
        _ConsoleFilter(logging.INFO if verbose else logging.WARNING, logging.INFO if verbose else logging.ERROR)
    )
    handler.addFilter(RedactFilter())  # after the level filter: only what is printed is rewritten
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _ConsoleHandler)]:  # configured before (in-process calls)
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    logging.captureWarnings(False)
    warnings.showwarning = _WarningsOnce(stream)
