"""Check-run create/update as GitHub validates and applies them.

GitHub answers 422 in two shapes: "Invalid request." plus a reason for what its JSON schema rejects (too many
items, a missing or unknown value) and "Validation Failed" with an `errors` list for rules on the object
(e.g. an annotation whose start_line is after its end_line). Both are reproduced here.
"""

from __future__ import annotations

from typing import Any

from tests.github_double.shapes import timestamp
from tests.github_double.state import CheckRun

STATUSES = ("queued", "in_progress", "completed")
ACTIONS_ONLY_STATUSES = ("waiting", "requested", "pending")
CONCLUSIONS = ("action_required", "cancelled", "failure", "neutral", "success", "skipped", "timed_out")
LEVELS = ("notice", "warning", "failure")
MAX_ANNOTATIONS = 50
MAX_TEXT = 65_535
MAX_ACTIONS = 3
ACTION_LIMITS = {"label": 20, "description": 40, "identifier": 20}
# GitHub's documented sizes: title 255 characters, message and raw_details 64 KB.
ANNOTATION_TEXT_LIMITS = {"title": 255, "message": 64 * 1024, "raw_details": 64 * 1024}
ANNOTATION_REQUIRED = ("path", "start_line", "end_line", "annotation_level", "message")


class Invalid(Exception):
    """A 422: `message` is GitHub's, `errors` its list of field errors (or None)."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors


def _schema(reason: str) -> Invalid:
    return Invalid(f"Invalid request.\n\n{reason}")


def _field(field: str) -> Invalid:
    return Invalid("Validation Failed", [{"resource": "CheckRun", "code": "invalid", "field": field}])


def _member(value: Any, allowed: tuple[str, ...]) -> Invalid:
    members = ", ".join(f'"{item}"' for item in allowed)
    return _schema(f'"{value}" is not a member of [{members}].')


def _check_annotations(annotations: Any) -> list[dict[str, Any]]:
    if not isinstance(annotations, list):
        raise _schema('For "properties/annotations", a list is required.')
    if len(annotations) > MAX_ANNOTATIONS:
        raise _schema(f"No more than {MAX_ANNOTATIONS} items are allowed; {len(annotations)} were supplied.")
    for item in annotations:
        if not isinstance(item, dict):
            raise _schema('For "items", an object is required.')
        missing = [key for key in ANNOTATION_REQUIRED if item.get(key) is None]
        if missing:
            names = ", ".join(f'"{key}"' for key in sorted(missing))
            raise _schema(f"{names} {'wasn' if len(missing) == 1 else 'weren'}'t supplied.")
        if item["annotation_level"] not in LEVELS:
            raise _member(item["annotation_level"], LEVELS)
        lines = (item["start_line"], item["end_line"])
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in lines):
            raise _field("annotations")
        if item["start_line"] > item["end_line"]:
            raise _field("annotations")
        for key, limit in ANNOTATION_TEXT_LIMITS.items():
            value = item.get(key)
            size = len(value.encode()) if key != "title" and isinstance(value, str) else len(value or "")
            if size > limit:
                raise _schema(f"Only {limit} characters are allowed; {size} were supplied.")
        has_columns = item.get("start_column") is not None or item.get("end_column") is not None
        if has_columns and item["start_line"] != item["end_line"]:
            raise _field("annotations")
    return annotations


def _check_output(output: Any) -> dict[str, Any]:
    if not isinstance(output, dict):
        raise _schema('For "properties/output", an object is required.')
    missing = [key for key in ("title", "summary") if not isinstance(output.get(key), str)]
    if missing:
        names = ", ".join(f'"{key}"' for key in missing)
        raise _schema(f"{names} {'wasn' if len(missing) == 1 else 'weren'}'t supplied.")
    for key in ("summary", "text"):
        value = output.get(key)
        if isinstance(value, str) and len(value) > MAX_TEXT:
            raise _schema(f"Only {MAX_TEXT} characters are allowed; {len(value)} were supplied.")
    _check_annotations(output.get("annotations", []))
    return output


def _check_actions(actions: Any) -> list[dict[str, Any]]:
    if not isinstance(actions, list):
        raise _schema('For "properties/actions", a list is required.')
    if len(actions) > MAX_ACTIONS:
        raise _schema(f"No more than {MAX_ACTIONS} items are allowed; {len(actions)} were supplied.")
    for action in actions:
        missing = [key for key in ACTION_LIMITS if not isinstance(action.get(key), str)]
        if missing:
            names = ", ".join(f'"{key}"' for key in missing)
            raise _schema(f"{names} {'wasn' if len(missing) == 1 else 'weren'}'t supplied.")
        for key, limit in ACTION_LIMITS.items():
            if len(action[key]) > limit:
                raise _schema(f"Only {limit} characters are allowed; {len(action[key])} were supplied.")
    return actions


def validate(body: Any, creating: bool, current_conclusion: str | None = None) -> dict[str, Any]:
    """The request body if GitHub would accept it; raises Invalid otherwise."""
    if not isinstance(body, dict):
        raise Invalid("Problems parsing JSON")
    if creating:
        missing = [key for key in ("name", "head_sha") if not isinstance(body.get(key), str) or not body[key]]
        if missing:
            names = ", ".join(f'"{key}"' for key in missing)
            raise _schema(f"{names} {'wasn' if len(missing) == 1 else 'weren'}'t supplied.")
    status = body.get("status")
    if status is not None and status not in STATUSES:
        if status in ACTIONS_ONLY_STATUSES:
            raise _field("status")
        raise _member(status, STATUSES)
    conclusion = body.get("conclusion")
    if conclusion is not None and conclusion not in CONCLUSIONS:
        raise _member(conclusion, CONCLUSIONS)
    if status == "completed" and conclusion is None and current_conclusion is None:
        raise _schema('"conclusion" wasn\'t supplied.')
    if "output" in body:
        _check_output(body["output"])
    if "actions" in body:
        _check_actions(body["actions"])
    return body


def apply(run: CheckRun, body: dict[str, Any]) -> None:
    """Apply a validated create/update body; annotations are appended, the rest replaced."""
    for key in ("name", "external_id", "details_url", "started_at"):
        if key in body:
            setattr(run, key, body[key])
    if body.get("status"):
        run.status = body["status"]
    if body.get("conclusion"):
        run.conclusion = body["conclusion"]
        run.status = "completed"
    if run.status == "completed":
        run.completed_at = body.get("completed_at") or run.completed_at or timestamp()
    if run.status == "in_progress" and run.started_at is None:
        run.started_at = timestamp()
    if "output" in body:
        output = body["output"]
        run.title, run.summary = output["title"], output["summary"]
        if "text" in output:
            run.text = output["text"]
        batch = output.get("annotations") or []
        run.annotations.extend(dict(item) for item in batch)
        if batch:
            run.annotation_batches.append(len(batch))
    if "actions" in body:
        run.actions = list(body["actions"])
