"""Packaging is declared in setup.cfg; this shim lets setuptools<68 install it."""
from setuptools import setup

setup()
