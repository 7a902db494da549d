"""Command registry: distpy's command names mapped to command classes.

Built-in command families live in the modules of this package; third-party
command sets register through the ``raydas.commands`` entry-point group, each
entry point naming either a :class:`Command` subclass or a module whose
``Command`` subclasses are all registered.
"""

from __future__ import annotations

import difflib
import inspect

from ..errors import RaydasError
from ..plugins import load_modules_and_plugins
from .base import ArrayMeta, Command, Context, Coordinate, Layout, Params, Spectrum

_COMMANDS: dict[str, type[Command]] = {}
_BUILTIN_MODULES = (
    "control",
    "elementwise",
    "spectral",
    "filters",
    "statistics",
    "geometry",
    "detection",
    "algebra",
    "io",
    "plots",
    "interferometry",
    "stacking",
)
_loaded = False

#: distpy's plots that are panels of a plots config (drawn by ``raydas plot``), not graph commands.
PLOTS_CONFIG_PANELS = ("well_log", "stack", "rgb")


def register(cls: type[Command]) -> type[Command]:
    """Class decorator adding a command to the registry (a later registration
    of the same name replaces the earlier one, so plug-ins can override)."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    _COMMANDS[cls.name] = cls
    return cls


def _add_plugin(target) -> None:
    """Register an entry point's target: a Command subclass, or every one in a module."""
    if inspect.isclass(target) and issubclass(target, Command):
        register(target)
    elif inspect.ismodule(target):
        for _, obj in inspect.getmembers(target, inspect.isclass):
            if issubclass(obj, Command) and obj is not Command and obj.name:
                register(obj)
    else:
        raise TypeError(f"{target!r} is neither a Command subclass nor a module")


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    load_modules_and_plugins(__name__, _BUILTIN_MODULES, "raydas.commands", _add_plugin)


def all_commands() -> dict[str, type[Command]]:
    """Every registered command class by name, sorted by name."""
    _load()
    return dict(sorted(_COMMANDS.items()))


def get(name: str) -> type[Command]:
    """The command class for distpy's JSON ``name``.

    Raises
    ------
    RaydasError
        For an unknown name (never a silent pass-through), with suggestions;
        for distpy's panel plots (``well_log``, ``stack``, ``rgb``), saying
        that they belong in a plots config drawn by ``raydas plot``.
    """
    _load()
    try:
        return _COMMANDS[name]
    except KeyError:
        if name in PLOTS_CONFIG_PANELS:
            raise RaydasError(
                f"{name} is a panel of a plots config, not a processing command: list it under 'plots' "
                "in a plots config and run `raydas plot PLOTS_CONFIG.json`"
            ) from None
        close = difflib.get_close_matches(str(name), _COMMANDS, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `raydas commands` lists them"
        raise RaydasError(f"unknown command {name!r}{hint}") from None


__all__ = [
    "PLOTS_CONFIG_PANELS",
    "ArrayMeta",
    "Command",
    "Context",
    "Coordinate",
    "Layout",
    "Params",
    "Spectrum",
    "all_commands",
    "get",
    "register",
]
