"""Tessera's research benchmark suite: Tessera side by side with CrypTen and MPyC.

``python -m bench SUITE`` (see :mod:`bench.__main__`) runs the suite's runner commands, stamps
their JSON lines and renders ``bench/README.md``; ``make bench`` runs every suite. The runners
are scripts (``bench/kernels.py``, ``bench/arith.py``, ..., ``bench/peers/*_w.py``) executed as
subprocesses, so this package imports nothing from ``mpc`` itself.
"""
