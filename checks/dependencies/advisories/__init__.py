"""The offline advisory index: OSV records loaded once into SQLite, looked up per package during a scan.

`osv` reads records (JSON/YAML files in any layout, OSV `all.zip` exports), `store` builds and opens the
SQLite index (atomically replaced, so a failed sync leaves the old one usable), `versions` decides whether
a version is affected, `severity` turns CVSS vectors into a severity. Nothing here uses the network: the
sync command (`bot.cli.advisories`) downloads, this package only reads bytes it is handed.
"""

from checks.dependencies.advisories.location import default_dir, index_path
from checks.dependencies.advisories.store import Advisory, AdvisoryIndex, IndexMeta, build_index

__all__ = ["Advisory", "AdvisoryIndex", "IndexMeta", "build_index", "default_dir", "index_path"]
