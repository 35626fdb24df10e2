# No AI endpoint without rate limits and logging.
#
# Every file the change makes call an LLM (kind "llm-code") must, in what the change adds, apply a rate limit
# (a limiter, throttle, token bucket…) and log (a logger, structlog…). prguard reports both per file in
# input.endpoints.
package prguard

import rego.v1

deny contains msg if {
	some e in input.endpoints
	not e.rate_limit
	msg := sprintf("%s calls an LLM without a rate limit", [e.path])
}

deny contains msg if {
	some e in input.endpoints
	not e.logging
	msg := sprintf("%s calls an LLM without logging", [e.path])
}
