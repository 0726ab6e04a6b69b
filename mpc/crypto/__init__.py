"""Cryptographic building blocks below the network layer: OT, commitments, Paillier, AEAD records.

Modules here import only :mod:`mpc._core`, :mod:`mpc.errors` and third-party packages
(DESIGN.md section 2); import the module that defines a name, e.g. ``mpc.crypto.aead``.
"""
