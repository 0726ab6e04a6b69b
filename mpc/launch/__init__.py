"""Launching parties: ``mpc.run`` (the script entry point), ``mpcrun`` and ``mpcrun keygen``.

This is the top layer: it may import everything below it, and nothing inside ``mpc`` imports
it (except the facade's ``mpc.run``). Importing it starts nothing and reads no environment.
"""

from mpc.launch.run import run

__all__ = ["run"]
