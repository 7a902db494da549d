"""Applications built on the library: ``raydas plot`` (:mod:`raydas.apps.plot`)."""
