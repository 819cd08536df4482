"""API Gateway's mapping-template language: Velocity 1.7 with $input, $util, $context.

airspeed 0.7.1 renders the templates. Importing this module changes five of
its rules, for the whole process, to those of Velocity 1.7, which API Gateway
runs:

- A string literal processes no backslash escapes except ``\\uXXXX``, and a
  doubled quote stands for one quote. So ``"\\\\'"`` is the Java regex ``\\\\'``,
  which matches a backslash followed by a quote.
- A method argument is a reference or a literal, never an expression, so
  ``$s.substring($i + 1)`` is a syntax error.
- ``/`` and ``%`` on integers truncate toward zero, as Java's do.
- ``+`` with a string operand concatenates.
- Only null and false are false in ``#if``, ``&&``, ``||`` and ``!``; an empty
  string and zero are true.

Values handed to templates are Java-like: :class:`JavaString` has the
``java.lang.String`` methods that templates call, counting in UTF-16 code
units, and maps, lists and booleans print as Java prints them.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import unquote_plus

import airspeed

# --- Velocity 1.7 rules for airspeed -------------------------------------------

_UNICODE_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})")


def _parse_single_quoted(self) -> None:
    (raw,) = self.identity_match(self.STRING)
    self.value = raw.replace("''", "'")


def _parse_double_quoted(self) -> None:
    (raw,) = self.identity_match(self.STRING)
    unescaped = _UNICODE_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), raw)
    self.value = unescaped.replace('""', '"')
    self.block = airspeed.Block(self.filename, self.value, 0)


class _ArgumentValue(airspeed.Value):
    """A method argument: Velocity 1.7 accepts no operator expression here."""

    def parse(self) -> None:
        self.expression = self.next_element(
            (
                airspeed.FormalReference,
                airspeed.FloatingPointLiteral,
                airspeed.IntegerLiteral,
                airspeed.StringLiteral,
                airspeed.InterpolatedStringLiteral,
                airspeed.ArrayLiteral,
                airspeed.DictionaryLiteral,
                airspeed.BooleanLiteral,
                airspeed.NullLiteral,
            )
        )


class _ArgumentList(airspeed.ValueList):
    def parse(self) -> None:
        self.values = []
        try:
            self.values.append(self.next_element(_ArgumentValue))
        except airspeed.NoMatch:
            return
        while self.optional_match(self.COMMA):
            self.values.append(self.require_next_element(_ArgumentValue, "value"))


def _parse_parameters(self) -> None:
    self.identity_match(self.START)
    try:
        self.values = self.next_element(_ArgumentList)
    except airspeed.NoMatch:
        pass
    self.require_match(self.END, ")")


def _java_divide(left, right):
    if isinstance(left, int) and isinstance(right, int):
        quotient = abs(left) // abs(right)
        return quotient if (left >= 0) == (right >= 0) else -quotient
    return left / right


def _java_remainder(left, right):
    if isinstance(left, int) and isinstance(right, int):
        return left - right * _java_divide(left, right)
    return left % right


def _java_add(left, right):
    if isinstance(left, str) or isinstance(right, str):
        return JavaString(java_string(left) + java_string(right))
    return left + right


def velocity_truth(value: Any) -> bool:
    """Return whether Velocity 1.7 treats ``value`` as true: all but null and false."""
    if value is None:
        return False
    if isinstance(value, bool | JavaBoolean):
        return bool(value)
    return True


def _parse_condition(self) -> None:
    expression = self.next_element(airspeed.ParenthesizedExpression)
    self.optional_match(airspeed.WHITESPACE_TO_END_OF_LINE)
    self.calculate = lambda namespace, loader: velocity_truth(
        expression.calculate(namespace, loader)
    )


def _use_velocity_17_rules() -> None:
    airspeed.StringLiteral.STRING = re.compile(r"'((?:[^']|'')*)'", re.S)
    airspeed.StringLiteral.parse = _parse_single_quoted
    airspeed.InterpolatedStringLiteral.STRING = re.compile(r'"((?:[^"]|"")*)"', re.S)
    airspeed.InterpolatedStringLiteral.parse = _parse_double_quoted
    airspeed.ParameterList.parse = _parse_parameters
    operators = airspeed.BinaryOperator.OPERATORS
    operators.update({"/": _java_divide, "%": _java_remainder, "+": _java_add})
    for name in ("&&", "and"):
        operators[name] = lambda a, b: velocity_truth(a) and velocity_truth(b)
    for name in ("||", "or"):
        operators[name] = lambda a, b: velocity_truth(a) or velocity_truth(b)
    for name in ("!", "not"):
        airspeed.UnaryOperatorValue.OPERATORS[name] = lambda a: not velocity_truth(a)
    airspeed.Condition.parse = _parse_condition


_use_velocity_17_rules()


# --- Java-like values ------------------------------------------------------------


def _is_bmp_only(text: str) -> bool:
    return not text or max(text) < "\U00010000"


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-le", "surrogatepass")


def _from_utf16(units: bytes) -> str:
    return units.decode("utf-16-le", "surrogatepass")


def java_string(value: Any) -> str:
    """Format ``value`` as Java's ``String.valueOf`` would."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _java_replacement(replacement: str) -> Callable[[re.Match], str]:
    """Translate a Java replacement string ($1, ${name}, \\x) to a function."""
    pieces: list[tuple[str, str]] = []
    index = 0
    while index < len(replacement):
        char = replacement[index]
        if char == "\\" and index + 1 < len(replacement):
            pieces.append(("text", replacement[index + 1]))
            index += 2
        elif char == "$":
            match = re.compile(r"\{(\w+)\}|(\d)").match(replacement, index + 1)
            if match is None:
                raise ValueError(f"illegal group reference in {replacement!r}")
            pieces.append(("group", match.group(1) or match.group(2)))
            index = match.end()
        else:
            pieces.append(("text", char))
            index += 1

    def expand(match: re.Match) -> str:
        parts = []
        for kind, value in pieces:
            group = value if kind == "text" else match.group(_group_key(value))
            parts.append(group or "")
        return "".join(parts)

    return expand


def _group_key(name: str) -> int | str:
    return int(name) if name.isdigit() else name


class JavaString(str):
    """A string with the ``java.lang.String`` methods that mapping templates call.

    Indexes and lengths count UTF-16 code units, as in Java, so a string with
    an emoji is one longer than Python's ``len``.
    """

    def length(self) -> int:
        if _is_bmp_only(self):
            return len(self)
        return len(_utf16(self)) // 2

    def substring(self, begin: int, end: int | None = None) -> JavaString:
        size = self.length()
        stop = size if end is None else end
        if not 0 <= begin <= stop <= size:
            raise IndexError(
                f"String index out of range: begin {begin}, end {stop}, length {size}"
            )
        if _is_bmp_only(self):
            return JavaString(str.__getitem__(self, slice(begin, stop)))
        return JavaString(_from_utf16(_utf16(self)[2 * begin : 2 * stop]))

    def charAt(self, index: int) -> JavaString:  # noqa: N802 (Java's name)
        return self.substring(index, index + 1)

    def indexOf(self, target: str, start: int = 0) -> int:  # noqa: N802
        return self._to_units(self.find(target, self._to_points(max(start, 0))))

    def lastIndexOf(self, target: str, start: int | None = None) -> int:  # noqa: N802
        if start is None:
            return self._to_units(self.rfind(target))
        if start < 0:
            return -1
        end = self._to_points(min(start, self.length())) + len(target)
        return self._to_units(self.rfind(target, 0, end))

    def _to_units(self, point_index: int) -> int:
        if point_index < 0 or _is_bmp_only(self):
            return point_index
        return len(_utf16(str.__getitem__(self, slice(0, point_index)))) // 2

    def _to_points(self, unit_index: int) -> int:
        if _is_bmp_only(self):
            return unit_index
        prefix = _utf16(self)[: 2 * unit_index]
        return len(_from_utf16(prefix))

    def contains(self, target: str) -> bool:
        return target in self

    def startsWith(self, prefix: str) -> bool:  # noqa: N802
        return self.startswith(prefix)

    def endsWith(self, suffix: str) -> bool:  # noqa: N802
        return self.endswith(suffix)

    def equals(self, other: Any) -> bool:
        return isinstance(other, str) and str(self) == str(other)

    def equalsIgnoreCase(self, other: Any) -> bool:  # noqa: N802
        return isinstance(other, str) and self.lower() == other.lower()

    def isEmpty(self) -> bool:  # noqa: N802
        return len(self) == 0

    def trim(self) -> JavaString:
        """Strip leading and trailing characters up to U+0020, as Java's trim does."""
        characters = "".join(chr(code) for code in range(0x21))
        return JavaString(self.strip(characters))

    def toLowerCase(self) -> JavaString:  # noqa: N802
        return JavaString(self.lower())

    def toUpperCase(self) -> JavaString:  # noqa: N802
        return JavaString(self.upper())

    def concat(self, other: str) -> JavaString:
        return JavaString(self + other)

    def replace(self, target: str, replacement: str) -> JavaString:  # type: ignore[override]
        return JavaString(str.replace(self, str(target), str(replacement)))

    def replaceAll(self, regex: str, replacement: str) -> JavaString:  # noqa: N802
        return JavaString(re.sub(regex, _java_replacement(replacement), self))

    def replaceFirst(self, regex: str, replacement: str) -> JavaString:  # noqa: N802
        expand = _java_replacement(replacement)
        return JavaString(re.sub(regex, expand, self, count=1))

    def matches(self, regex: str) -> bool:
        return re.fullmatch(regex, self) is not None

    def split(self, regex: str) -> JavaList:  # type: ignore[override]
        """Split around ``regex``, dropping trailing empty strings as Java does."""
        parts = re.split(regex, self) if self else [""]
        while len(parts) > 1 and parts[-1] == "":
            parts.pop()
        return JavaList(JavaString(part) for part in parts)

    def toString(self) -> JavaString:  # noqa: N802
        return self


class JavaDouble(float):
    """A JSON number with a fraction, printed as Java's ``Double.toString`` does.

    Java prints 1796394779.332 as ``1.796394779332E9``: scientific notation
    outside [0.001, 10^7), and always at least one digit after the point.
    """

    def __str__(self) -> str:
        if self != self or self in (float("inf"), float("-inf")):
            return {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[repr(self)]
        magnitude = abs(self)
        if magnitude == 0 or 1e-3 <= magnitude < 1e7:
            text = repr(float(self))
            return text if "e" not in text else f"{float(self):.1f}"
        sign, digits, exponent = Decimal(repr(magnitude)).as_tuple()
        figures = "".join(str(d) for d in digits).rstrip("0") or "0"
        power = len(digits) + exponent - 1
        mantissa = figures[0] + "." + (figures[1:] or "0")
        return ("-" if self < 0 else "") + f"{mantissa}E{power}"


class JavaBoolean:
    """A JSON boolean that prints as Java prints it: ``true`` or ``false``."""

    def __init__(self, value: bool):
        self.value = value

    def __bool__(self) -> bool:
        return self.value

    def __eq__(self, other: object) -> bool:
        return (
            bool(other) == self.value
            if isinstance(other, bool | JavaBoolean)
            else False
        )

    def __hash__(self) -> int:
        return hash(self.value)

    def __str__(self) -> str:
        return java_string(self.value)


class JavaList(list):
    """A JSON array with the ``java.util.List`` methods templates call."""

    def size(self) -> int:
        return len(self)

    def get(self, index: int) -> Any:
        return self[index]

    def contains(self, value: Any) -> bool:
        return value in self

    def isEmpty(self) -> bool:  # noqa: N802
        return not self

    def __str__(self) -> str:
        return "[" + ", ".join(java_string(item) for item in self) + "]"


class JavaMap(dict):
    """A JSON object with the ``java.util.Map`` methods templates call."""

    def size(self) -> int:
        return len(self)

    def isEmpty(self) -> bool:  # noqa: N802
        return not self

    def containsKey(self, key: str) -> bool:  # noqa: N802
        return key in self

    def keySet(self) -> JavaList:  # noqa: N802
        return JavaList(self.keys())

    def entrySet(self) -> JavaList:  # noqa: N802
        return JavaList(JavaMap(key=k, value=v) for k, v in self.items())

    def __str__(self) -> str:
        pairs = (f"{key}={java_string(value)}" for key, value in self.items())
        return "{" + ", ".join(pairs) + "}"


def to_java(value: Any) -> Any:
    """Convert a parsed JSON value into the Java-like values templates expect."""
    if isinstance(value, str):
        return JavaString(value)
    if isinstance(value, bool):
        return JavaBoolean(value)
    if isinstance(value, float):
        return JavaDouble(value)
    if isinstance(value, dict):
        return JavaMap((key, to_java(item)) for key, item in value.items())
    if isinstance(value, list):
        return JavaList(to_java(item) for item in value)
    return value


def to_json_text(value: Any) -> str:
    """Serialise a Java-like value back to compact JSON."""

    def plain(item: Any) -> Any:
        if isinstance(item, JavaBoolean):
            return item.value
        if isinstance(item, dict):
            return {key: plain(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [plain(inner) for inner in item]
        return str(item) if isinstance(item, JavaString) else item

    return json.dumps(plain(value), ensure_ascii=False, separators=(",", ":"))


# --- $util -----------------------------------------------------------------------

_JAVASCRIPT_ESCAPES = {
    "\b": "\\b",
    "\n": "\\n",
    "\t": "\\t",
    "\f": "\\f",
    "\r": "\\r",
    "'": "\\'",
    '"': '\\"',
    "\\": "\\\\",
    "/": "\\/",
}


def escape_javascript(text: str) -> str:
    """Escape ``text`` as Commons Lang 2's ``StringEscapeUtils.escapeJavaScript``.

    Quotes, the backslash and ``/`` get a backslash, and \\b \\n \\t \\f \\r get
    their short escapes. Other characters below U+0020 and every character
    above U+007F become ``\\uXXXX`` in uppercase hex. A character beyond the
    Basic Multilingual Plane becomes its two UTF-16 surrogates. U+007F stays.
    """
    pieces = []
    for char in text:
        code = ord(char)
        if char in _JAVASCRIPT_ESCAPES:
            pieces.append(_JAVASCRIPT_ESCAPES[char])
        elif code < 0x20 or 0x7F < code <= 0xFFFF:
            pieces.append(f"\\u{code:04X}")
        elif code > 0xFFFF:
            high, low = divmod(code - 0x10000, 0x400)
            pieces.append(f"\\u{0xD800 + high:04X}\\u{0xDC00 + low:04X}")
        else:
            pieces.append(char)
    return "".join(pieces)


def url_encode(text: str) -> str:
    """Encode as Java's ``URLEncoder.encode(text, "UTF-8")``: a space becomes +."""
    pieces = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if char.isascii() and (char.isalnum() or char in ".-*_"):
            pieces.append(char)
        elif char == " ":
            pieces.append("+")
        else:
            pieces.append(f"%{byte:02X}")
    return "".join(pieces)


class Util:
    """The ``$util`` variable of API Gateway mapping templates."""

    def escapeJavaScript(self, text: Any) -> JavaString:  # noqa: N802
        return JavaString(escape_javascript(java_string(text)))

    def parseJson(self, text: Any) -> Any:  # noqa: N802
        return to_java(json.loads(str(text)))

    def urlEncode(self, text: Any) -> JavaString:  # noqa: N802
        return JavaString(url_encode(java_string(text)))

    def urlDecode(self, text: Any) -> JavaString:  # noqa: N802
        return JavaString(unquote_plus(str(text), errors="strict"))

    def base64Encode(self, text: Any) -> JavaString:  # noqa: N802
        encoded = base64.b64encode(java_string(text).encode("utf-8"))
        return JavaString(encoded.decode("ascii"))

    def base64Decode(self, text: Any) -> JavaString:  # noqa: N802
        decoded = base64.b64decode(str(text), validate=True)
        return JavaString(decoded.decode("utf-8"))


# --- $input ----------------------------------------------------------------------

_PATH_STEP = re.compile(
    r"\.([A-Za-z_$][\w$-]*)|\[\s*(?:'([^']*)'|\"([^\"]*)\"|(-?\d+))\s*\]"
)


def json_path(document: Any, path: str) -> Any:
    """Evaluate a JSONPath of names and indexes (``$.a.b``, ``$['a'][0]``).

    Returns None when a step is missing, as Jayway JsonPath does under API
    Gateway. NOTE: wildcards, slices, filters and ``..`` are not supported
    and raise ValueError, although API Gateway accepts them.
    """
    if not path.startswith("$"):
        raise ValueError(f"JSONPath {path!r} must start with $")
    position = 1
    current = document
    while position < len(path):
        match = _PATH_STEP.match(path, position)
        if match is None:
            raise ValueError(f"unsupported JSONPath {path!r} at offset {position}")
        name = next((g for g in match.groups()[:3] if g is not None), None)
        current = _step(current, name, match.group(4))
        position = match.end()
    return current


def _step(current: Any, name: str | None, index: str | None) -> Any:
    if name is not None:
        return current.get(name) if isinstance(current, dict) else None
    if isinstance(current, list):
        position = int(index)
        return current[position] if -len(current) <= position < len(current) else None
    return None


class Input:
    """The ``$input`` variable: the request or integration response body."""

    def __init__(self, body: str, parameters: dict[str, dict[str, str]] | None = None):
        self.body = JavaString(body)
        self._parameters = parameters or {"path": {}, "querystring": {}, "header": {}}
        self._document: Any = None
        self._parsed = False

    def _parse(self) -> Any:
        if not self._parsed:
            self._document = json.loads(self.body) if self.body.strip() else {}
            self._parsed = True
        return self._document

    def path(self, expression: str) -> Any:
        """Return the value at a JSONPath of the body, as a Java-like object."""
        return to_java(json_path(self._parse(), str(expression)))

    def json(self, expression: str) -> JavaString:
        """Return the value at a JSONPath of the body, serialised as JSON.

        NOTE: a missing value renders as an empty string here. API Gateway's
        output for a missing path is not documented, so a template should not
        depend on it.
        """
        value = json_path(self._parse(), str(expression))
        if value is None:
            return JavaString("")
        return JavaString(json.dumps(value, ensure_ascii=False, separators=(",", ":")))

    def params(self, name: str | None = None) -> Any:
        """Return one parameter (path, then query string, then header) or all."""
        if name is None:
            return JavaMap(
                (kind, JavaMap(values)) for kind, values in self._parameters.items()
            )
        for kind in ("path", "querystring"):
            if name in self._parameters.get(kind, {}):
                return JavaString(self._parameters[kind][name])
        for header, value in self._parameters.get("header", {}).items():
            if header.lower() == str(name).lower():
                return JavaString(value)
        return JavaString("")


# --- rendering -------------------------------------------------------------------


class TemplateError(RuntimeError):
    """A mapping template could not be parsed or rendered."""


def compile_template(text: str, name: str = "template") -> airspeed.Template:
    """Parse a mapping template once, so each request only renders it."""
    template = airspeed.Template(text, filename=name)
    try:
        template.ensure_compiled()
    except airspeed.TemplateSyntaxError as error:
        raise TemplateError(f"{name} is not valid Velocity: {error}") from error
    return template


def render(template: airspeed.Template, namespace: dict[str, Any]) -> str:
    """Render a compiled template; raise TemplateError on any evaluation error."""
    try:
        return template.merge(namespace)
    except airspeed.TemplateError as error:
        raise TemplateError(f"rendering {template.filename} failed: {error}") from error
