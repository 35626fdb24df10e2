"""Everything that knows GitHub, Redis, HTTP and the command line. Scanning itself lives in `checks/`."""
