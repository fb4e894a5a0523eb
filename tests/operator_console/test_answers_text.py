"""Pure helpers of quick answers and search: placeholders, generated names, CSV rows, query
words and snippets."""

from __future__ import annotations

import pytest

from operator_console.answers_text import CsvError, answers_csv, check_csv, render_answer
from operator_console.search_text import fts5_match, query_words, snippet, tsquery


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Анна", "Hello, Анна! Olga of Demo here."),
        ("Visitor J3tCnX", "Hello! Olga of Demo here."),
        ("Client #12", "Hello! Olga of Demo here."),
        ("", "Hello! Olga of Demo here."),
    ],
)
def test_placeholders_and_generated_names(name: str, expected: str) -> None:
    text = "Hello, {client_name}! {operator_name} of {line} here."
    assert render_answer(text, name, "Olga", "Demo") == expected


def test_a_generated_name_inside_a_sentence_leaves_no_gap_before_punctuation() -> None:
    assert (
        render_answer("Dear {client_name}, thanks.", "Visitor abcdef", "O", "L") == "Dear, thanks."
    )
    # Someone really called "Visitor" with a longer word is a name.
    assert render_answer("Hi {client_name}", "Visitor Smithson", "O", "L") == "Hi Visitor Smithson"
    # Unknown braces are left alone.
    assert render_answer("{x} {line}", "A", "O", "L") == "{x} L"


def test_csv_export_reads_back_the_same() -> None:
    rows = [("A, b", 'say "hi"\nand go'), ("Ё", "ёлка")]
    assert [(r.title, r.text) for r in check_csv(answers_csv(rows))] == rows


def test_csv_checks_name_row_and_field() -> None:
    with pytest.raises(CsvError) as caught:
        check_csv("\ufefftitle,text\nok,fine\n\nx,\n")
    assert (caught.value.row, caught.value.field) == (4, "text")
    with pytest.raises(CsvError) as caught:
        check_csv("")
    assert (caught.value.row, caught.value.field) == (0, "file")
    with pytest.raises(CsvError) as caught:
        check_csv("title\nA\n")
    assert (caught.value.row, caught.value.field) == (1, "text")


def test_query_words_never_make_fts_syntax() -> None:
    words = query_words('Привет "NEAR(x) OR* -y:z')
    assert words == ["привет", "near", "x", "or", "y", "z"]
    assert fts5_match(words[:2]) == '"привет" "near"*'
    assert tsquery(words[:2]) == "привет & near:*"
    assert query_words("!!! ...") == []


def test_snippet_is_one_line_around_the_first_word() -> None:
    text = "start " + "filler " * 30 + "the\nparcel arrived " + "tail " * 40
    cut = snippet(text, ["parcel"])
    assert "\n" not in cut and "the parcel arrived" in cut
    assert cut.startswith("…") and cut.endswith("…")
    assert snippet("short text", ["nothing"]) == "short text"
