"""The public chat page and the demo page are filled in safely."""

from __future__ import annotations

import pytest

from widget.assets import STATIC_DIR, render_page


def test_hostile_title_is_shown_as_text_not_markup() -> None:
    page = render_page("chat.html", channel_key="k1", title='<script>alert(1)</script>"')

    assert "<script>alert(1)" not in page
    assert "<title>&lt;script&gt;alert(1)&lt;/script&gt;&quot;</title>" in page
    assert 'data-title="&lt;script&gt;alert(1)&lt;/script&gt;&quot;"' in page


def test_chat_page_loads_the_widget_in_page_mode_for_its_channel() -> None:
    page = render_page("chat.html", channel_key="abc-123", title="Support")

    assert "{{" not in page
    assert 'src="/widget/widget.js"' in page
    assert 'data-mode="page"' in page
    assert 'data-channel="abc-123"' in page
    assert '<meta name="viewport"' in page


def test_demo_page_embeds_the_widget_for_its_channel() -> None:
    page = render_page("demo.html", channel_key="demo_key")

    assert "{{" not in page
    assert '<script src="/widget/widget.js" data-channel="demo_key" async></script>' in page


def test_a_value_that_looks_like_a_placeholder_is_not_expanded() -> None:
    page = render_page("chat.html", channel_key="k", title="{{channel_key}}")

    assert "<title>{{channel_key}}</title>" in page


def test_missing_value_and_unknown_page_are_refused() -> None:
    with pytest.raises(KeyError):
        render_page("chat.html", channel_key="k")
    with pytest.raises(ValueError):
        render_page("../assets.py")


def test_static_folder_holds_the_widget_script() -> None:
    assert (STATIC_DIR / "widget.js").is_file()
