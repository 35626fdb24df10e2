# No production promotion without signed artifacts.
#
# A PR that touches the production deployment (deploy/production/**) may not carry model artifacts without a
# signature beside them (<artifact>.sig, .sigstore or .sigstore.json in the same PR), and every commit must
# have a signature GitHub verified.
package prguard

import rego.v1

promotion if {
	some f in input.files
	startswith(f.path, "deploy/production/")
}

signed(path) if {
	some s in input.provenance.signatures
	startswith(s, path)
}

deny contains msg if {
	promotion
	some path, kind in input.ai_paths
	kind == "model"
	not signed(path)
	msg := sprintf("%s is promoted to production without a signature (add %s.sig or %s.sigstore.json)", [path, path, path])
}

deny contains msg if {
	promotion
	some c in input.provenance.commits
	not c.verified
	msg := sprintf("commit %s has no verified signature; production promotions need signed commits", [substring(c.sha, 0, 12)])
}

warn contains msg if {
	promotion
	some m in input.provenance.model_refs
	not m.pinned
	msg := sprintf("model %s is not pinned to a revision", [m.source])
}
