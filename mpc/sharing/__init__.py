"""Share containers and share arithmetic without I/O: additive sharing over Z_2^64."""

from mpc.sharing.additive import random_sharing, reconstruct, split, zero_sharing

__all__ = ["random_sharing", "reconstruct", "split", "zero_sharing"]
