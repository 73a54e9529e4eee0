"""Markdown to safe HTML: markdown renders, nh3 keeps only harmless tags and attributes."""

from __future__ import annotations

from functools import lru_cache

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe

_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "code": {"class"}, "th": {"align"}, "td": {"align"}}


@lru_cache(maxsize=64)
def render_markdown(text: str) -> SafeString:
    html = markdown.markdown(text, extensions=["fenced_code", "tables", "sane_lists"], output_format="html")
    return mark_safe(nh3.clean(html, tags=_TAGS, attributes=_ATTRIBUTES, url_schemes={"http", "https", "mailto"}))
