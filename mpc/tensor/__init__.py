"""The user-facing secret types: SecretTensor (arithmetic shares) and its module functions."""

from mpc.tensor.functions import avg_pool2d, concatenate, conv2d, dot, outer, stack
from mpc.tensor.secret_tensor import SecretTensor

__all__ = ["SecretTensor", "avg_pool2d", "concatenate", "conv2d", "dot", "outer", "stack"]
