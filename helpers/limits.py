"""Service limits of AWS Step Functions that the kit enforces itself.

Source: the StartExecution API reference and the Step Functions quotas page
of the AWS documentation. The local emulator (moto 5.2.5) enforces none of
the name rules on its interpreter path and no input size.
"""

from __future__ import annotations

import re

MAX_EXECUTION_NAME_LENGTH = 80
MAX_EXECUTION_INPUT_BYTES = 256 * 1024

# Whitespace, brackets, wildcards, the listed special characters, and the
# control characters U+0000-U+001F and U+007F-U+009F. U+FEFF is whitespace
# in ECMA 262 regular expressions, as API Gateway's models use, but not in
# Python's.
_FORBIDDEN_NAME_CHARACTER = re.compile(
    r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f\ufeff]"
)


def execution_name_problem(name: str) -> str | None:
    """Return why AWS rejects ``name`` as an execution name, or None if it is valid."""
    if not name:
        return "it is empty"
    if len(name) > MAX_EXECUTION_NAME_LENGTH:
        return (
            f"it has {len(name)} characters and the maximum is "
            f"{MAX_EXECUTION_NAME_LENGTH}"
        )
    match = _FORBIDDEN_NAME_CHARACTER.search(name)
    if match:
        return f"it contains the forbidden character {match.group()!r}"
    return None


def execution_input_problem(execution_input: str) -> str | None:
    """Return why AWS rejects an execution input of this size, or None."""
    size = len(execution_input.encode("utf-8"))
    if size > MAX_EXECUTION_INPUT_BYTES:
        return (
            f"the execution input is {size} bytes of UTF-8 and the maximum is "
            f"{MAX_EXECUTION_INPUT_BYTES} bytes (256 KiB)"
        )
    return None
