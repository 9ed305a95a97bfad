"""The pure parts: where link N goes, the pixel in the HTML, the SVG timeline."""

from __future__ import annotations

import datetime as dt
import itertools
import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from herald.messaging.compiling import TemplateSource, prepare
from herald.tracking.chart import Point, fill_hours, nice_ceiling, timeline_svg
from herald.tracking.linkmap import link_targets
from herald.tracking.pixel import GIF, add_open_pixel

SVG = "{http://www.w3.org/2000/svg}"


def _prepared(html, text=""):
    return prepare(TemplateSource(subject="Hi", html=html, text=text))


def test_each_numbered_link_resolves_to_the_url_the_template_wrote():
    p = _prepared(
        '<a href="https://shop.example/a?x=1&amp;y=2">A</a> <a href="http://b.example/">B</a>'
        ' <a href="mailto:x@example.com">m</a> <a href="${unsubscribe_url}">u</a>'
    )
    assert link_targets(p.html, p.text) == {
        0: "https://shop.example/a?x=1&y=2",
        1: "http://b.example/",
    }


def test_a_link_built_from_a_variable_has_no_url_until_rendered():
    p = _prepared('<a href="https://x.example/?id=${customer_id|0}">me</a>')
    assert link_targets(p.html, p.text) == {0: None}


def test_links_only_in_the_text_part_are_numbered_too():
    p = _prepared("<p>Hi</p>", text="Go to https://only-text.example/ now")
    assert link_targets(p.html, p.text) == {0: "https://only-text.example/"}


def test_a_source_with_no_links_has_no_targets():
    assert link_targets("<p>${first_name|there}</p>") == {}


def test_the_pixel_goes_at_the_end_of_the_body():
    html = add_open_pixel("<html><body><p>Hi</p></body></html>", "https://h.example/o/t.gif")
    assert html.endswith(
        '<img src="https://h.example/o/t.gif" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0;margin:0;padding:0">'
        "\n</body></html>"
    )
    assert add_open_pixel("<p>no body</p>", "u").startswith("<p>no body</p><img")


def test_the_pixel_is_a_one_by_one_gif():
    assert GIF.startswith(b"GIF89a\x01\x00\x01\x00")
    assert len(GIF) == 43


def _hour(h):
    return dt.datetime(2026, 3, 1, tzinfo=dt.UTC) + dt.timedelta(hours=h)


def test_the_timeline_is_an_svg_with_one_bar_per_hour_and_both_lines():
    svg = timeline_svg([Point(_hour(0), 100, 10, 2), Point(_hour(3), 50, 20, 5)])
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    bars = root.findall(f"{SVG}rect[@class='sent']")
    assert len(bars) == 4  # hours 0..3, the empty ones as zero-height bars
    assert root.find(f"{SVG}polyline[@class='opened']") is not None
    assert "01 Mar 00:00: 100 sent" in svg


def test_labels_are_escaped_in_the_picture():
    svg = timeline_svg([Point(_hour(0), 1)], labels={"sent": "<script>alert(1)</script>"})
    assert "<script>" not in svg
    ET.fromstring(svg)  # noqa: S314 - our own output


def test_an_empty_timeline_says_so():
    assert "nothing yet" in timeline_svg([], labels={"empty": "nothing yet"})


def test_axis_maxima_are_round():
    assert [nice_ceiling(v) for v in (0, 1, 3, 7, 12, 99, 101, 2500)] == [
        1,
        1,
        5,
        10,
        20,
        100,
        200,
        5000,
    ]


@given(
    st.lists(
        st.tuples(
            st.integers(0, 500), st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**6)
        ),
        max_size=40,
    )
)
def test_any_timeline_is_well_formed_and_linear_in_time(rows):
    points = [Point(_hour(h), s, o, c) for h, s, o, c in rows]
    svg = timeline_svg(points)
    ET.fromstring(svg)  # noqa: S314 - our own output
    filled = fill_hours(points)
    for a, b in itertools.pairwise(filled):
        assert b.hour - a.hour == dt.timedelta(hours=1)
