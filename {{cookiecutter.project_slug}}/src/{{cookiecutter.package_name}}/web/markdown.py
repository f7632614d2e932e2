"""The guide's Markdown as HTML, with an id on every heading so the dashboard can link to a section.

Ids are made the way GitHub makes them ("Rotation and reuse detection" -> `rotation-and-reuse-detection`),
so the same links work on the code forge and in the app.

An image of the guide's own folder (`![...](sequence.svg)`) shows on the code forge as the file next to
the guide; the app has no route for it, so the page carries it inside, as a `data:` URL, which the
Content-Security-Policy allows (`img-src 'self' data:`). The SVG keeps its own styles and fonts there,
and the `alt` text stays the image's text alternative.
"""

import base64
import re
from functools import cache
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore

DOCS = Path(__file__).resolve().parents[3] / "docs"  # where the guide is, with its images
_LOCAL_IMAGE = re.compile(r"[\w-]+\.svg")  # a file of that folder: no path, no scheme


def heading_id(text: str) -> str:
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", text.strip().lower()))


def _heading_ids(state: StateCore) -> None:
    for opening, inline in zip(state.tokens, state.tokens[1:], strict=False):
        if opening.type == "heading_open":
            opening.attrSet("id", heading_id(inline.content))


def _inline_images(state: StateCore) -> None:
    for block in state.tokens:
        for token in block.children or []:
            src = token.attrGet("src")
            if token.type == "image" and isinstance(src, str) and _LOCAL_IMAGE.fullmatch(src) and (DOCS / src).is_file():
                token.attrSet("src", "data:image/svg+xml;base64," + base64.b64encode((DOCS / src).read_bytes()).decode())


@cache
def _renderer() -> MarkdownIt:
    markdown = MarkdownIt("commonmark").enable("table")
    markdown.core.ruler.push("heading_ids", _heading_ids)
    markdown.core.ruler.push("inline_images", _inline_images)
    return markdown


def render_markdown(text: str) -> str:
    """The HTML of `text`, a Markdown file of DOCS: its SVG images inlined."""
    html: str = _renderer().render(text)
    return html
