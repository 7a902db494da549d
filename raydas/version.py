"""The raydas version: one home, imported by the public API and by whatever
records which raydas wrote something (actor names, result attributes)."""

__version__ = "0.1.0"
