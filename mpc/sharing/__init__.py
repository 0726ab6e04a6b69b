"""Share containers and share arithmetic without I/O: additive sharing over Z_2^64."""

from mpc.sharing.additive import reconstruct, zero_sharing

__all__ = ["reconstruct", "zero_sharing"]
