# No model deployment without a bias and a toxicity evaluation.
#
# A PR that changes a model artifact (kind "model") or adds a model reference (from_pretrained & co.) must
# bring an evaluation result for bias and one for toxicity in the same PR (files prguard classifies as
# evaluation results, e.g. evals/bias-results.json), and no red-team result may have failed a bias or
# toxicity category.
package prguard

import rego.v1

model_changed if {
	some _, kind in input.ai_paths
	kind == "model"
}

model_changed if count(input.provenance.model_refs) > 0

has_eval(topic) if {
	some f in input.evidence.files
	contains(lower(f), topic)
}

deny contains "model change without a bias evaluation (add one under evals/, e.g. evals/bias-results.json)" if {
	model_changed
	not has_eval("bias")
}

deny contains "model change without a toxicity evaluation (add one under evals/, e.g. evals/toxicity-results.json)" if {
	model_changed
	not has_eval("toxic")
}

deny contains msg if {
	model_changed
	some r in input.evidence.redteam
	some c in r.failed_categories
	some topic in ["bias", "toxic", "hate", "harass"]
	contains(lower(c), topic)
	msg := sprintf("red-team result %s failed %s", [r.path, c])
}
