"""Client HTML reduced to plain text with the standard library's tokenizer.

Nothing of the markup survives: tags become line breaks or nothing, entities are decoded,
scripts, styles and quoted history (``<blockquote>``, Gmail's ``gmail_quote``) are dropped.
The result is shown as text, so even a ``<b>`` written by the client in prose stays harmless.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCK = frozenset(
    {"p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6",
     "pre", "hr", "section", "article", "header", "footer", "address", "dd", "dt"}
)  # fmt: skip
_DROP = frozenset({"script", "style", "head", "title", "template", "iframe", "object", "svg"})
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base"})


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[tuple[str, bool]] = []
        """Open tags, each with whether its content is dropped."""

    def _dropping(self) -> bool:
        return any(drop for _tag, drop in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = " ".join(v or "" for k, v in attrs if k == "class")
        drop = tag in _DROP or tag == "blockquote" or "gmail_quote" in classes
        if tag not in _VOID:
            self.stack.append((tag, drop))
        if tag in _BLOCK and not self._dropping():
            self.parts.append("\n")
        if tag == "li" and not self._dropping():
            self.parts.append("- ")

    def handle_endtag(self, tag: str) -> None:
        # Close up to the matching tag: real-world HTML leaves tags unclosed.
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break
        if tag in _BLOCK and not self._dropping():
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._dropping():
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Readable plain text of an HTML body."""
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts).replace("\xa0", " ")
    lines = [re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
