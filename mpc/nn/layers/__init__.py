"""The layers of mpc.nn (see :mod:`mpc.nn.layers.base` for the interface)."""
