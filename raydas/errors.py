"""The project's exception types.

Every error a user can cause (a bad file, a bad config, a bad command graph)
is raised as a subclass of :class:`RaydasError` with a message that names the
file or JSON path at fault and says what is wrong.
"""

from __future__ import annotations


class RaydasError(Exception):
    """Base class of every error raydas raises on purpose."""


class FormatError(RaydasError):
    """A data file cannot be recognised or read.

    Parameters
    ----------
    path
        The file (URL) at fault.
    problem
        What is wrong with it, in words a user can act on.
    """

    def __init__(self, path: str, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self):  # pickles across processes (Ray tasks, the HDF5 scan helper)
        return type(self), (self.path, self.problem)


class NotDataError(FormatError):
    """A file no reader recognises that is a document rather than data (a
    README, a licence text, a PDF): scans list it as "not data" instead of
    as a failure."""


class ConfigError(RaydasError):
    """A configuration (JSON) is invalid.

    Parameters
    ----------
    json_path
        Where in the document the problem is, e.g. ``$.command_list[3].in_uid``.
    problem
        What is wrong.
    source
        The config file, when it came from one.
    """

    def __init__(self, json_path: str, problem: str, source: str | None = None):
        self.json_path = json_path
        self.problem = problem
        self.source = source
        where = f"{source}: {json_path}" if source else json_path
        super().__init__(f"{where}: {problem}")

    def __reduce__(self):
        return type(self), (self.json_path, self.problem, self.source)


class OutputPathError(RaydasError):
    """A result file cannot be written where it belongs: a folder or file on its
    path inside the results root is a symbolic link (raydas never writes through
    one), or is not a folder."""


class PlanError(RaydasError):
    """A record (or one chunk of it) that the processing graph cannot serve,
    found at planning, before any work: a cut-off or band beyond the record's
    Nyquist frequency, too few channels, a chunk too short for a command.

    Parameters
    ----------
    path
        The record's file (URL).
    problem
        What the graph cannot do with it, naming the command's JSON path.
    """

    def __init__(self, path: str, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self):
        return type(self), (self.path, self.problem)


class PipelineError(RaydasError):
    """A command failed while a pipeline ran on a chunk."""


class RunFailed(RaydasError):
    """A run finished, but some files or chunks failed (see the failure report).

    ``failures`` holds the run's :class:`raydas.runtime.Failure` entries.
    """

    def __init__(self, failures: list, report_path: str | None = None):
        self.failures = failures
        self.report_path = report_path
        where = f"; report: {report_path}" if report_path else ""
        super().__init__(f"{len(failures)} failure(s){where}")

    def __reduce__(self):
        return type(self), (self.failures, self.report_path)


class TruncatedFileWarning(UserWarning):
    """A file ends before its headers say it should; the complete part is read
    (the message names the file and what is missing)."""
