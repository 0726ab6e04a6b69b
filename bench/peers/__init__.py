"""Peer frameworks (CrypTen, MPyC) for the side-by-side benchmarks.

Each peer lives in its own virtual environment under ``bench/.peers/`` (git-ignored) and its
runner script in this folder is executed with that environment's interpreter, so nothing here
is imported by the project's own environment except :mod:`bench.peers.install`.
"""
