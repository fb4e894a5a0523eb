"""The bounds every edge applies to ids, JSON documents and signatures."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.limits import MAX_ID, InputError, loads_limited, parse_id, signature_matches


@pytest.mark.parametrize("raw", ["9223372036854775808", "²", "٣", "", "-", "1" * 40, "0x10"])
def test_parse_id_refuses_what_no_row_can_have(raw: str) -> None:
    assert parse_id(raw) is None


def test_parse_id_takes_the_whole_64_bit_range() -> None:
    assert parse_id(str(MAX_ID)) == MAX_ID
    assert parse_id(str(-MAX_ID - 1)) == -MAX_ID - 1
    assert parse_id("42") == 42


def test_deep_nesting_is_refused_before_the_parser_recurses() -> None:
    with pytest.raises(InputError, match="nests deeper"):
        loads_limited("[" * 1_000_000)


def test_brackets_inside_strings_do_not_count_as_depth() -> None:
    assert loads_limited(json.dumps({"t": "[" * 500})) == {"t": "[" * 500}


@pytest.mark.parametrize("raw", ['{"update_id": 1e400}', "NaN", "-Infinity", "1" * 5000])
def test_numbers_that_overflow_are_refused(raw: str) -> None:
    with pytest.raises(InputError):
        loads_limited(raw)


def test_lone_surrogate_becomes_a_replacement_character() -> None:
    text = loads_limited('{"text": "a\\ud800b \\ud83d\\ude00"}')["text"]
    assert text == "a\ufffdb \U0001f600"
    text.encode("utf-8")


def test_size_limit() -> None:
    with pytest.raises(InputError, match="limit is 10"):
        loads_limited(b"[" + b" " * 20 + b"]", max_bytes=10)


def test_non_ascii_signature_is_a_mismatch_not_an_error() -> None:
    assert not signature_matches("abc", "ab²")
    assert not signature_matches("abc", "\udcff")
    assert not signature_matches("abc", None)
    assert signature_matches("abc", "abc") and signature_matches(b"abc", b"abc")


@settings(max_examples=300, derandomize=True, database=None)
@given(st.text(alphabet=st.sampled_from('[]{}",:1e\\u0d8 ')) | st.binary(max_size=64))
def test_any_text_parses_or_is_an_input_error(raw: str | bytes) -> None:
    with contextlib.suppress(InputError):
        loads_limited(raw, max_depth=8)


def test_a_nul_in_a_json_string_becomes_a_replacement_character() -> None:
    """PostgreSQL cannot store U+0000 in a text column: a login with one was a 500."""
    assert loads_limited('{"login\\u0000": ["a\\u0000b"]}') == {"login\ufffd": ["a\ufffdb"]}
