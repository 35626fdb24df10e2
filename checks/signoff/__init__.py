"""The AI safety sign-off's pure parts: records and the state folded from them, owners per path, the
findings block the scan writes, evidence rules and red-team result parsing, the sign-off policy.

No network and no GitHub here: `bot.features.signoff*` reads GitHub and calls these.
"""
