"""The JSON configs shipped with raydas (this folder installs as ``raydas.configs``)."""
