"""The stack's artifacts under ``deploy/``, read from disk and filled in.

Placeholders have the form ``${Name}``, as in CloudFormation's ``Fn::Sub``.
Only the names passed in are replaced, so Velocity references such as
``$input`` stay as they are; a ``${Name}`` left unreplaced raises.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

DEPLOY_DIR = Path(__file__).resolve().parent.parent / "deploy"

_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Za-z]*)\}")


class ArtifactError(ValueError):
    """An artifact under ``deploy/`` is missing a value or is malformed."""


def substitute(text: str, values: dict[str, str], source: str = "template") -> str:
    """Replace every ``${Name}`` in ``text`` by ``values[Name]``."""

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise ArtifactError(f"{source} uses ${{{name}}}, which has no value")
        return values[name]

    return _PLACEHOLDER.sub(replace, text)


def raw_text(relative_path: str) -> str:
    """Read ``deploy/RELATIVE_PATH`` as stored, placeholders included."""
    return (DEPLOY_DIR / relative_path).read_text()


def read_text(relative_path: str, values: dict[str, str] | None = None) -> str:
    """Read ``deploy/RELATIVE_PATH`` and fill in its placeholders."""
    text = raw_text(relative_path)
    return substitute(text, values or {}, source=f"deploy/{relative_path}")


def read_json(relative_path: str, values: dict[str, str] | None = None) -> dict:
    """Read a JSON artifact, fill in its placeholders and parse it."""
    return json.loads(read_text(relative_path, values))


def state_machine_definition(action_function_arn: str) -> str:
    """Return the Amazon States Language definition with the action's ARN filled in."""
    values = {"ActionFunctionArn": action_function_arn}
    return read_text("state_machine.asl.json", values)


def lambda_zip() -> bytes:
    """Zip ``deploy/lambda/handler.py`` reproducibly, so its SHA-256 is stable."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("handler.py", date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        archive.writestr(info, (DEPLOY_DIR / "lambda" / "handler.py").read_bytes())
    return buffer.getvalue()


def event_schema() -> dict:
    """Return the JSON Schema (draft 4) of the POST /events body."""
    return read_json("api/event.schema.json")
