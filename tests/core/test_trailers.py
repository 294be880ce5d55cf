"""Merge messages carry orchd's trailers; reading them back must find exactly those."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.core.trailers import (
    TRAILER_AGENT,
    TRAILER_BATCH,
    TRAILER_FU,
    TRAILER_RELEASE,
    merge_message,
    parse_trailers,
)


@pytest.mark.parametrize(
    ("subject", "body", "trailers", "expected"),
    [
        (
            "Merge FU-1",
            "Adds the login page.",
            {TRAILER_FU: "FU-1", TRAILER_AGENT: "bc-7"},
            "Merge FU-1\n\nAdds the login page.\n\nOrchd-FU: FU-1\nOrchd-Agent: bc-7\n",
        ),
        ("Merge FU-1", "  \n", {TRAILER_FU: "FU-1"}, "Merge FU-1\n\nOrchd-FU: FU-1\n"),
        ("Merge FU-1", "Body.\n\n", {}, "Merge FU-1\n\nBody.\n"),
        ("Merge\nFU-1  ", "", {}, "Merge FU-1\n"),
        (
            "Merge FU-2",
            "",
            {TRAILER_RELEASE: "r1\nsecond line", TRAILER_BATCH: " 3 "},
            "Merge FU-2\n\nOrchd-Release: r1 second line\nOrchd-Batch: 3\n",
        ),
    ],
    ids=["body-and-trailers", "blank-body", "no-trailers", "subject-folded", "values-folded"],
)
def test_merge_message_layout(
    subject: str, body: str, trailers: dict[str, str], expected: str
) -> None:
    assert merge_message(subject, body, trailers) == expected


@pytest.mark.parametrize(
    ("subject", "trailers", "problem"),
    [
        (" \n ", {}, "subject"),
        ("Merge", {"Orchd FU": "x"}, "key"),
        ("Merge", {"": "x"}, "key"),
        ("Merge", {TRAILER_FU: " \n "}, "empty value"),
    ],
    ids=["empty-subject", "space-in-key", "empty-key", "blank-value"],
)
def test_merge_message_refuses_what_would_not_read_back(
    subject: str, trailers: dict[str, str], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        merge_message(subject, "", trailers)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Merge\n\nOrchd-FU: FU-1\nOrchd-Batch: 2\n", {"Orchd-FU": "FU-1", "Orchd-Batch": "2"}),
        (
            "Merge\n\nNote: this looks like a trailer\nbut the paragraph is prose.\n\n"
            "Fixes: not a trailer either\n\nOrchd-FU: FU-3\n",
            {"Orchd-FU": "FU-3"},
        ),
        ("Merge\n\nOrchd-FU: FU-1\nsome prose after\n", {}),
        ("Orchd-FU: FU-1\n", {}),
        ("Merge\n\nbody\n", {}),
        ("Merge\r\n\r\nOrchd-FU: FU-4\r\n", {"Orchd-FU": "FU-4"}),
        ("Merge\n\nOrchd-FU: FU-5\n\n\n  \n", {"Orchd-FU": "FU-5"}),
        ("Merge\n\nLink: see: http://x/y\n", {"Link": "see: http://x/y"}),
        ("Merge\n\nOrchd-FU: FU-1\nOrchd-FU: FU-2\n", {"Orchd-FU": "FU-2"}),
        ("Merge\n\nOrchd-FU:FU-1\n", {}),
        ("", {}),
    ],
    ids=[
        "plain",
        "prose-with-colons-before",
        "mixed-last-paragraph",
        "subject-only",
        "no-trailers",
        "crlf",
        "trailing-blank-lines",
        "colon-in-value",
        "repeated-key-last-wins",
        "no-space-after-colon",
        "empty",
    ],
)
def test_parse_trailers_reads_only_the_last_paragraph(
    message: str, expected: dict[str, str]
) -> None:
    assert parse_trailers(message) == expected


@given(
    subject=st.text(min_size=1).filter(str.strip),
    body=st.text(),
    trailers=st.dictionaries(
        st.from_regex(r"[A-Za-z0-9-]+", fullmatch=True),
        st.text(min_size=1).filter(str.strip),
        min_size=1,
        max_size=4,
    ),
)
def test_trailers_written_are_the_trailers_read(
    subject: str, body: str, trailers: dict[str, str]
) -> None:
    message = merge_message(subject, body, trailers)
    assert parse_trailers(message) == {
        key: " ".join(value.split()) for key, value in trailers.items()
    }
