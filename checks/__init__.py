"""Pure scanning: a `Change` goes in, `Finding`s come out.

Nothing in this package talks to the network, GitHub or Redis, so the same checks run in the App's workers,
in `prguard scan` and in the pre-commit hook.
"""
