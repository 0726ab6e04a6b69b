"""Correlated randomness for the online phase: Beaver triples, matrix triples, truncation triples,
AND (bit) triples and daBits.

Sources: :class:`DealerClient` (from a :class:`TrustedDealer` process, seed-compressed) and
:class:`InsecureLocalDealer` (in-process, tests only). ``dealer_service.serve`` runs the dealer.
"""

from mpc.preprocessing.base import Preprocessing, Request, SquarePair, Triple, TruncTriple
from mpc.preprocessing.dealer import TrustedDealer
from mpc.preprocessing.seeded import DealerClient, InsecureLocalDealer

__all__ = [
    "DealerClient",
    "InsecureLocalDealer",
    "Preprocessing",
    "Request",
    "SquarePair",
    "Triple",
    "TrustedDealer",
    "TruncTriple",
]
