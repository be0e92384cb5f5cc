"""The JSON Schema of the spec format (`gaussdiag schema`), for editors and CI linters.

Generated from the pydantic models in `spec.models`, so it cannot drift from what the
loader accepts. The loader checks more than a schema can say (names declared before use,
expressions, shapes that broadcast): a document the schema accepts may still be refused, with
a message that names the key and the line. No torch here.
"""

from __future__ import annotations

from typing import Any

from gaussdiag.frontends.yaml.spec.models import Spec

DIALECT = "https://json-schema.org/draft/2020-12/schema"  # what pydantic generates
TITLE = "gaussdiag spec, version 1"
DESCRIPTION = (
    "Two ways of writing the same PyTorch distribution (sides a and b), the tensors they are "
    "built from and the point where log_prob or rsample is evaluated, for `gaussdiag compare`; "
    "or side a alone with `switches:` (torch.compile, another device, TF32, autocast) to check "
    "it under."
)


def spec_schema() -> dict[str, Any]:
    """The schema as a JSON-ready dict, `$schema` and `title` first."""
    body = Spec.model_json_schema()
    body.pop("title", None)
    body.pop("description", None)
    return {"$schema": DIALECT, "title": TITLE, "description": DESCRIPTION, **body}
