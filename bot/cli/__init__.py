"""The `prguard` command line: one module per subcommand, and the scan's output formats."""
