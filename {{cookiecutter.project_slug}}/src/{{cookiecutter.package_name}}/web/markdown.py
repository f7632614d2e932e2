"""The guide's Markdown as HTML, with an id on every heading so the dashboard can link to a section.

Ids are made the way GitHub makes them ("Rotation and reuse detection" -> `rotation-and-reuse-detection`),
so the same links work on the code forge and in the app.
"""

import re
from functools import cache

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore


def heading_id(text: str) -> str:
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", text.strip().lower()))


def _heading_ids(state: StateCore) -> None:
    for opening, inline in zip(state.tokens, state.tokens[1:], strict=False):
        if opening.type == "heading_open":
            opening.attrSet("id", heading_id(inline.content))


@cache
def _renderer() -> MarkdownIt:
    markdown = MarkdownIt("commonmark").enable("table")
    markdown.core.ruler.push("heading_ids", _heading_ids)
    return markdown


def render_markdown(text: str) -> str:
    html: str = _renderer().render(text)
    return html
