"""raydas: Distributed Acoustic Sensing processing on Ray.

Reads DAS recordings of the common vendor formats by content, cuts them into
chunks (with halos, across file boundaries), and runs distpy-style command
graphs over them on a laptop or an autoscaling Ray cluster, on CPU or GPU.

Quick use::

    import raydas
    records, failures = raydas.scan("data/*.sgy")
    chunk = raydas.read("data/file.sgy")
    pipeline = raydas.Pipeline.from_config("noiselog.json")
    outputs = raydas.process(chunk, pipeline)  # in memory, no Ray: {uid: Output}
    report = raydas.run(raydas.load_config("run.json"))
    catalogue = raydas.Catalogue("archive.catalogue")   # raydas index / raydas select
    catalogue.update(["data/"])
    report = raydas.run(config, records=catalogue.select("2026-12-06T00:00Z", "2026-12-06T01:00Z"))
"""

from .chunk import Chunk
from .config import RunConfig, load_config
from .errors import ConfigError, FormatError, PipelineError, RaydasError, RunFailed
from .formats import read, scan
from .inmemory import Output, process
from .pipeline import Pipeline
from .runtime import RunReport, run
from .version import __version__ as __version__  # re-exported: raydas.__version__


def __getattr__(name: str):
    # the catalogue needs pyarrow.dataset (a second to import): loaded when first used
    if name == "Catalogue":
        from .catalogue import Catalogue

        return Catalogue
    raise AttributeError(f"module 'raydas' has no attribute {name!r}")


__all__ = [
    "Catalogue",
    "Chunk",
    "ConfigError",
    "FormatError",
    "Output",
    "Pipeline",
    "PipelineError",
    "RaydasError",
    "RunConfig",
    "RunFailed",
    "RunReport",
    "load_config",
    "process",
    "read",
    "run",
    "scan",
]
