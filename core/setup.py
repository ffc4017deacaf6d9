"""The compiled hot spots (pyfalco/speedups.py); everything else is in pyproject.toml.

Optional: without a C compiler the package installs and runs their pure-Python twins.
"""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("pyfalco._speedups", ["src/pyfalco/_speedups.c"], optional=True,
              extra_compile_args=["-Wall", "-Werror=implicit-function-declaration"]),
])
