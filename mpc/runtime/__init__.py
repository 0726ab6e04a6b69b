"""The Party: owns the channel, seeds and PRGs, the operation counter, engines and stats."""

from mpc.runtime.party import Party

__all__ = ["Party"]
