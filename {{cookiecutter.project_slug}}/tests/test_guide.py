"""docs/refresh-tokens.md points at code and tests as `file::name`; every pointer must lead somewhere.

Renaming a function or a test the guide names fails this test, so the guide stays true. The
dashboard's "more" links must lead to sections of the guide, and the app serves it at /guide.
"""

import ast
import re
from pathlib import Path

from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.web.markdown import heading_id

PROJECT = Path(__file__).resolve().parents[1]
GUIDE = PROJECT / "docs" / "refresh-tokens.md"
POINTER = re.compile(r"`([\w./-]+\.(?:py|js))::([\w.]+)`")


def python_names(path: Path) -> set[str]:
    """Functions and classes of a module, and methods as `Class.method`."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            names |= {f"{node.name}.{item.name}" for item in node.body if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)}
    return names


def defines(path: Path, name: str) -> bool:
    if path.suffix == ".py":
        return name in python_names(path)
    return re.search(rf"\bfunction {re.escape(name)}\(", path.read_text()) is not None


def test_every_pointer_of_the_guide_exists() -> None:
    pointers = POINTER.findall(GUIDE.read_text())
    assert len(pointers) > 30, "the guide should point at the code and tests of every step"
    broken = [f"{file}::{name}" for file, name in pointers if not (PROJECT / file).is_file() or not defines(PROJECT / file, name)]
    assert not broken, f"the guide points at what does not exist: {broken}"


def test_every_section_names_its_code_and_its_tests() -> None:
    sections = re.split(r"^## ", GUIDE.read_text(), flags=re.M)[1:]
    for section in sections:
        title = section.splitlines()[0]
        assert "- Code:" in section and "- Tests:" in section, title
        assert re.search(r"`tests/[\w/]+\.py::test_\w+`", section), title


def test_the_dashboard_links_to_sections_of_the_guide(client: TestClient) -> None:
    script = (PROJECT / "src" / "{{ cookiecutter.package_name }}" / "web" / "static" / "app.js").read_text()
    linked = set(re.findall(r'"([a-z-]+)"\],?\n', script))
    headings = {heading_id(line.lstrip("#")) for line in GUIDE.read_text().splitlines() if line.startswith("#")}
    assert linked and linked <= headings, linked - headings
    page = client.get("/guide")
    assert page.status_code == 200
    assert all(f'id="{section}"' in page.text for section in linked)


def test_the_guide_shows_its_sequence_diagram_from_the_repository(client: TestClient) -> None:
    # An SVG made in the repository, put in the page as a data: URL: nothing fetched from elsewhere.
    page = client.get("/guide").text
    assert 'src="data:image/svg+xml;base64,' in page
    assert "sequence.svg" in GUIDE.read_text() and (GUIDE.parent / "sequence.svg").is_file()
