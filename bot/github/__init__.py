"""Everything that speaks to GitHub's REST API: the client, check runs, the PR -> `Change` source, rendering."""
