"""Command registry: distpy's command names mapped to command classes.

Built-in command families live in the modules of this package; third-party
command sets register through the ``raydas.commands`` entry-point group, each
entry point naming either a :class:`Command` subclass or a module whose
``Command`` subclasses are all registered.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import logging
from importlib.metadata import entry_points

from ..errors import RaydasError
from .base import ArrayMeta, Command, Context, Params, Spectrum

log = logging.getLogger(__name__)

_COMMANDS: dict[str, type[Command]] = {}
_BUILTIN_MODULES = ("control", "elementwise", "spectral", "filters", "statistics", "geometry", "detection", "algebra", "io",
                    "plots")
_loaded = False


def register(cls: type[Command]) -> type[Command]:
    """Class decorator adding a command to the registry (a later registration
    of the same name replaces the earlier one, so plug-ins can override)."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    _COMMANDS[cls.name] = cls
    return cls


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in _BUILTIN_MODULES:
        importlib.import_module(f"{__name__}.{mod}")
    for ep in entry_points(group="raydas.commands"):
        try:
            target = ep.load()
        except Exception as exc:  # a broken plug-in must not break the built-ins
            log.warning("command plug-in %s could not be loaded: %s", ep.name, exc)
            continue
        if inspect.isclass(target) and issubclass(target, Command):
            register(target)
        elif inspect.ismodule(target):
            for _, obj in inspect.getmembers(target, inspect.isclass):
                if issubclass(obj, Command) and obj is not Command and obj.name:
                    register(obj)


def all_commands() -> dict[str, type[Command]]:
    """Every registered command class by name, sorted by name."""
    _load()
    return dict(sorted(_COMMANDS.items()))


def get(name: str) -> type[Command]:
    """The command class for distpy's JSON ``name``.

    Raises
    ------
    RaydasError
        For an unknown name (never a silent pass-through), with suggestions.
    """
    _load()
    try:
        return _COMMANDS[name]
    except KeyError:
        close = difflib.get_close_matches(str(name), _COMMANDS, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `raydas commands` lists them"
        raise RaydasError(f"unknown command {name!r}{hint}") from None


__all__ = ["ArrayMeta", "Command", "Context", "Params", "Spectrum", "all_commands", "get", "register"]
