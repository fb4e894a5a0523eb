"""The public chat page and the demo page are filled in safely."""

from __future__ import annotations

import pytest

from widget.assets import STATIC_DIR, render_page, script_url

URL = "/widget/widget.js?v=0123abcd"


def test_hostile_title_is_shown_as_text_not_markup() -> None:
    page = render_page(
        "chat.html", channel_key="k1", title='<script>alert(1)</script>"', script_url=URL
    )

    assert "<script>alert(1)" not in page
    assert "<title>&lt;script&gt;alert(1)&lt;/script&gt;&quot;</title>" in page
    assert 'data-title="&lt;script&gt;alert(1)&lt;/script&gt;&quot;"' in page


def test_chat_page_loads_the_widget_in_page_mode_for_its_channel() -> None:
    page = render_page("chat.html", channel_key="abc-123", title="Support", script_url=URL)

    assert "{{" not in page
    assert f'src="{URL}"' in page
    assert 'data-mode="page"' in page
    assert 'data-channel="abc-123"' in page
    assert '<meta name="viewport"' in page


def test_demo_page_embeds_the_widget_for_its_channel() -> None:
    page = render_page("demo.html", channel_key="demo_key", script_url=URL)

    assert "{{" not in page
    assert f'<script src="{URL}" data-channel="demo_key" async></script>' in page


def test_a_value_that_looks_like_a_placeholder_is_not_expanded() -> None:
    page = render_page("chat.html", channel_key="k", title="{{channel_key}}", script_url=URL)

    assert "<title>{{channel_key}}</title>" in page


def test_missing_value_and_unknown_page_are_refused() -> None:
    with pytest.raises(KeyError):
        render_page("chat.html", channel_key="k")
    with pytest.raises(ValueError):
        render_page("../assets.py")


def test_static_folder_holds_the_widget_script() -> None:
    assert (STATIC_DIR / "widget.js").is_file()


def test_the_script_url_changes_with_the_script() -> None:
    assert script_url().startswith("/widget/widget.js?v=")
    assert len(script_url()) > len("/widget/widget.js?v=") + 10
