"""Loading a registry's built-in modules and its third-party plug-ins.

Commands and formats both live in registries filled by importing the package's
own modules and then every entry point of a group (``raydas.commands``,
``raydas.formats``). A broken plug-in is logged and skipped: it must never
break the built-ins.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points

log = logging.getLogger(__name__)


def load_modules_and_plugins(package: str, modules: Iterable[str], group: str, add: Callable[[object], None]) -> None:
    """Import ``package.<module>`` for each built-in module, then hand the object
    each entry point of ``group`` names to ``add``."""
    for mod in modules:
        importlib.import_module(f"{package}.{mod}")
    for ep in entry_points(group=group):
        try:
            add(ep.load())
        except Exception as exc:  # a broken plug-in must not break the built-ins
            log.warning("%s plug-in %s could not be loaded: %s", group, ep.name, exc)
