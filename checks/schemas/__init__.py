"""JSON Schemas shipped with prguard (a package so that setuptools installs the `*.json` files with it)."""
