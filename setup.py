"""The C core is compiled into braininabox._bb_c by cffi (see braininabox/_build_ffi.py)."""
from setuptools import setup

setup(cffi_modules=["braininabox/_build_ffi.py:ffibuilder"])
