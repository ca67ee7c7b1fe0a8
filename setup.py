"""Build shim; all metadata is declared in setup.cfg."""
from setuptools import setup

setup()
