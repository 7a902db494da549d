"""raydas: Distributed Acoustic Sensing processing on Ray.

Reads DAS recordings of the common vendor formats by content, cuts them into
chunks (with halos, across file boundaries), and runs distpy-style command
graphs over them on a laptop or an autoscaling Ray cluster, on CPU or GPU.

Quick use::

    import raydas
    records, failures = raydas.scan("data/*.sgy")
    chunk = raydas.read("data/file.sgy")
    pipeline = raydas.Pipeline.from_config("noiselog.json")
    report = raydas.run(raydas.load_config("run.json"))
"""

from .chunk import Chunk
from .config import RunConfig, load_config
from .errors import ConfigError, FormatError, PipelineError, RaydasError, RunFailed
from .formats import read, scan
from .pipeline import Pipeline
from .runtime import RunReport, run
from .version import __version__ as __version__  # re-exported: raydas.__version__

__all__ = [
    "Chunk",
    "ConfigError",
    "FormatError",
    "Pipeline",
    "PipelineError",
    "RaydasError",
    "RunConfig",
    "RunFailed",
    "RunReport",
    "load_config",
    "read",
    "run",
    "scan",
]
