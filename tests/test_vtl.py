"""The mapping-template runtime: Velocity 1.7 rules, $util, $input, Java strings."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from helpers import artifacts, vtl


def _render(text: str, **variables) -> str:
    namespace = {"util": vtl.Util(), **variables}
    return vtl.render(vtl.compile_template(text), namespace)


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ('say "hi"', 'say \\"hi\\"'),
        ("it's", "it\\'s"),
        ("a\\b", "a\\\\b"),
        ("a/b", "a\\/b"),
        ("\b\n\t\f\r", "\\b\\n\\t\\f\\r"),
        ("\x00\x1f", "\\u0000\\u001F"),
        ("\x7f", "\x7f"),
        ("é", "\\u00E9"),
        ("€", "\\u20AC"),
        ("😀", "\\uD83D\\uDE00"),
    ],
)
def test_escape_javascript_matches_commons_lang(text, escaped):
    assert vtl.escape_javascript(text) == escaped


def test_escape_javascript_output_parses_as_json_string():
    text = 'q" b\\ s/ n\n t\t é 😀 \x01 \x7f'

    escaped = vtl.escape_javascript(text).replace("\\'", "'")

    assert json.loads(f'"{escaped}"') == text


def test_string_literal_keeps_backslashes():
    assert _render("""#set($x = "a\\\\'b")$x""") == "a\\\\'b"


def test_string_literal_doubled_quote_is_one_quote():
    assert _render('#set($x = "say ""hi""")$x') == 'say "hi"'


def test_replace_all_idiom_unescapes_single_quotes():
    rendered = _render(
        """$util.escapeJavaScript("it's").replaceAll("\\\\'", "'")""",
    )

    assert rendered == "it's"


def test_arithmetic_in_method_argument_is_syntax_error():
    with pytest.raises(vtl.TemplateError, match="not valid Velocity"):
        vtl.compile_template("$s.substring($i + 1)")


@pytest.mark.parametrize(("expression", "result"), [("-7 / 2", "-3"), ("-7 % 2", "-1")])
def test_integer_division_truncates_toward_zero(expression, result):
    assert _render(f"#set($x = {expression})$x") == result


def test_empty_string_is_true_in_if():
    assert _render('#if("")true#{else}false#end') == "true"


def test_null_is_false_in_if():
    assert _render("#if($missing)true#{else}false#end") == "false"


def test_java_string_counts_utf16_units():
    text = vtl.JavaString("a😀b")

    assert text.length() == 4
    assert text.substring(1, 3) == "😀"
    assert text.indexOf("b") == 3
    assert text.lastIndexOf("a") == 0


def test_java_string_substring_out_of_range_raises():
    with pytest.raises(IndexError, match="out of range"):
        vtl.JavaString("abc").substring(2, 5)


def test_java_string_replace_all_uses_java_groups():
    text = vtl.JavaString("2026-08-28")

    assert text.replaceAll("(\\d+)-(\\d+)", "$2/$1") == "08/2026-28"


def test_java_string_trim_strips_control_characters():
    assert vtl.JavaString("\x01 x \n").trim() == "x"


def test_java_string_split_drops_trailing_empty_parts():
    assert list(vtl.JavaString("a,b,,").split(",")) == ["a", "b"]


def test_parse_json_values_print_as_java():
    rendered = _render(
        """#set($m = $util.parseJson('{"a": true, "b": [1, "x"], "c": 1.5E9}'))"""
        "$m.a $m.b $m.c"
    )

    assert rendered == "true [1, x] 1.5E9"


def test_url_encode_matches_java_url_encoder():
    assert vtl.url_encode("a b~é*") == "a+b%7E%C3%A9*"


def test_url_decode_reverses_url_encode():
    assert _render("$util.urlDecode('a+b%7E%C3%A9')") == "a b~é"


def test_base64_round_trip():
    assert _render("$util.base64Decode($util.base64Encode('é😀'))") == "é😀"


def test_input_path_and_json():
    body = vtl.Input('{"a": {"b": [1, {"c": "é"}]}}')

    assert body.path("$.a.b[1].c") == "é"
    assert body.json("$.a.b[1]") == '{"c":"é"}'
    assert body.path("$.missing") is None


def test_input_params_searches_path_query_then_header():
    params = {"path": {"id": "p"}, "querystring": {"q": "1"}, "header": {"X-A": "h"}}
    body = vtl.Input("{}", params)

    assert body.params("id") == "p"
    assert body.params("q") == "1"
    assert body.params("x-a") == "h"
    assert body.params("nothing") == ""


def test_response_override_status_is_settable():
    context = {"responseOverride": {"status": None, "header": {}}}

    _render("#set($context.responseOverride.status = 409)", context=context)

    assert context["responseOverride"]["status"] == 409


# --- the deployed POST request template -------------------------------------------


def _post_request(body: dict, now: datetime) -> dict:
    values = {"StateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:m"}
    template = vtl.compile_template(
        artifacts.read_text("api/post-events.request.vtl", values)
    )
    context = {
        "requestId": "11111111-2222-3333-4444-555555555555",
        "requestTimeEpoch": int(now.timestamp() * 1000),
    }
    text = json.dumps(body)
    rendered = vtl.render(
        template,
        {"input": vtl.Input(text), "util": vtl.Util(), "context": vtl.to_java(context)},
    )
    return json.loads(rendered)


NOW = datetime(2027, 2, 27, 12, 0, 0, tzinfo=UTC)


def test_post_template_passes_body_as_input():
    body = {"dueDate": "2027-03-01T00:00:00Z", "data": {"q": 'it\'s "x" \\ é 😀'}}

    request = _post_request(body, NOW)

    assert json.loads(request["input"]) == body


def test_post_template_names_execution_after_id():
    body = {"dueDate": "2027-03-01T00:00:00Z", "id": "evt-1"}

    assert _post_request(body, NOW)["name"] == "evt-1"


def test_post_template_names_execution_after_request_id():
    body = {"dueDate": "2027-03-01T00:00:00Z"}

    assert _post_request(body, NOW)["name"] == "11111111-2222-3333-4444-555555555555"


@pytest.mark.parametrize(
    "now",
    [
        datetime(2027, 2, 27, 12, 0, 0, tzinfo=UTC),
        datetime(2027, 3, 1, 0, 0, 0, tzinfo=UTC),
        datetime(2027, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2028, 2, 29, 6, 30, 15, tzinfo=UTC),
        datetime(2099, 7, 4, 1, 2, 3, tzinfo=UTC),
    ],
)
def test_post_template_allows_exactly_365_days(now):
    latest = datetime.fromtimestamp(now.timestamp() + 365 * 86400, UTC)
    body = {"dueDate": f"{latest:%Y-%m-%dT%H:%M:%S}Z", "id": "edge"}

    assert _post_request(body, now)["name"] == "edge"


@pytest.mark.parametrize(
    "now",
    [
        datetime(2027, 2, 27, 12, 0, 0, tzinfo=UTC),
        datetime(2028, 2, 29, 6, 30, 15, tzinfo=UTC),
        datetime(2099, 7, 4, 1, 2, 3, tzinfo=UTC),
    ],
)
def test_post_template_rejects_365_days_and_a_second(now):
    too_late = datetime.fromtimestamp(now.timestamp() + 365 * 86400 + 1, UTC)
    body = {"dueDate": f"{too_late:%Y-%m-%dT%H:%M:%S}Z", "id": "edge"}

    assert (
        _post_request(body, now)["name"]
        == "rejected: dueDate is more than 365 days ahead"
    )


@pytest.mark.parametrize("due_date", ["2027-02-29T00:00:00Z", "2027-04-31T00:00:00Z"])
def test_post_template_rejects_missing_calendar_day(due_date):
    name = _post_request({"dueDate": due_date}, NOW)["name"]

    assert name == "rejected: dueDate is not a calendar date"


def test_post_template_accepts_leap_day():
    body = {"dueDate": "2028-02-29T00:00:00Z", "id": "leap"}

    assert _post_request(body, datetime(2027, 6, 1, tzinfo=UTC))["name"] == "leap"


def test_post_template_accepts_year_before_1000():
    body = {"dueDate": "0999-12-31T23:59:59Z", "id": "old"}

    assert _post_request(body, NOW)["name"] == "old"
