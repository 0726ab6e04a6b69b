"""The extension list only; all metadata is in pyproject.toml.

MPC_CFLAGS overrides the optimisation flags (default: -O3 -march=native, since the core is built
from source on the machine that runs it).
"""

import glob
import os

from Cython.Build import cythonize
from setuptools import Extension, setup

CFLAGS = os.environ.get("MPC_CFLAGS", "-O3 -march=native -std=c11").split()
HEADERS = glob.glob("csrc/include/mpc/*.h")


def ext(name: str, *c_sources: str) -> Extension:
    return Extension(
        f"mpc._core.{name}",
        sources=[f"mpc/_core/{name}.pyx", *(f"csrc/{s}.c" for s in c_sources)],
        include_dirs=["csrc/include"],
        depends=HEADERS,
        extra_compile_args=CFLAGS,
    )


EXTENSIONS = [
    ext("_ring", "ring64", "ring128", "matmul"),  # matmul: auth_matmul_combine's uint64 products into its workspace
    ext("_matmul", "matmul", "beaver"),
    ext("_bits", "bits"),
    ext("_gf2k", "gf2k"),
    ext("_ot", "ot", "bits"),
    ext("_spdz", "spdz_offline"),
    ext("_mont", "montgomery"),
]

# Bounds and wrap-around checks are switched off per function in the .pyx files, where the indices are known good.
setup(ext_modules=cythonize(EXTENSIONS, language_level=3))
