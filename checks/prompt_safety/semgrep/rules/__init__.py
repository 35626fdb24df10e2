"""Not code: makes setuptools ship the rule files (package data `*.yml`) with prguard."""
