"""Bristol Fashion circuits shipped with Tessera (``*.txt``), written by ``generate.py``."""
