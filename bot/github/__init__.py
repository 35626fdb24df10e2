"""Everything that speaks to GitHub's REST API: client, check runs, the PR -> `Change` source, rendering."""
