"""Notes, the example resource: each user's own, paged newest first, bounded on the way in, on the
database the project uses."""

import json

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from {{ cookiecutter.package_name }}.notes.models import Note
from {{ cookiecutter.package_name }}.users import service as users_service

from .conftest import PASSWORD, bearer, login


@pytest.fixture
def alice(client: TestClient, tokens: dict[str, str]) -> dict[str, str]:
    return bearer(tokens["access_token"])


@pytest.fixture
def bob(client: TestClient, user: dict[str, str]) -> dict[str, str]:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        users_service.create_user(session, client.app.state.settings, "bob", PASSWORD)  # type: ignore[attr-defined]
    return bearer(login(client, "bob")["access_token"])


def add(client: TestClient, headers: dict[str, str], title: str, body: str = "") -> dict[str, object]:
    response = client.post("/notes", json={"title": title, "body": body}, headers=headers)
    assert response.status_code == 201, response.text
    note: dict[str, object] = response.json()
    return note


def test_a_note_is_kept_read_changed_and_deleted_by_its_owner(client: TestClient, alice: dict[str, str]) -> None:
    note = add(client, alice, "milk", "two litres")
    assert (note["title"], note["body"]) == ("milk", "two litres")
    assert client.get(f"/notes/{note['id']}", headers=alice).json() == note

    changed = client.patch(f"/notes/{note['id']}", json={"body": "three litres"}, headers=alice)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["title"], changed.json()["body"]) == ("milk", "three litres")  # what was left out stays
    assert changed.json()["updated_at"] > note["updated_at"]
    assert changed.json()["created_at"] == note["created_at"]

    assert client.delete(f"/notes/{note['id']}", headers=alice).status_code == 204
    gone = client.get(f"/notes/{note['id']}", headers=alice)
    assert (gone.status_code, gone.json()["code"]) == (404, "not_found")
    assert client.delete(f"/notes/{note['id']}", headers=alice).status_code == 404


def test_another_users_note_does_not_exist_for_them(client: TestClient, alice: dict[str, str], bob: dict[str, str]) -> None:
    note = add(client, alice, "alice's")
    for method, body in (("GET", None), ("PATCH", {"title": "bob's now"}), ("DELETE", None)):
        response = client.request(method, f"/notes/{note['id']}", json=body, headers=bob)
        assert (response.status_code, response.json()["code"]) == (404, "not_found"), method  # never 403: that says it exists
    assert client.get("/notes", headers=bob).json()["total"] == 0
    assert client.get(f"/notes/{note['id']}", headers=alice).json()["title"] == "alice's"  # untouched


def test_the_list_is_paged_newest_first(client: TestClient, alice: dict[str, str], bob: dict[str, str]) -> None:
    ids = [add(client, alice, f"note {number}")["id"] for number in range(5)]
    add(client, bob, "not alice's")
    first = client.get("/notes", params={"limit": 2}, headers=alice).json()
    assert [note["id"] for note in first["items"]] == ids[::-1][:2]
    assert (first["total"], first["offset"], first["limit"]) == (5, 0, 2)
    rest = client.get("/notes", params={"offset": 2, "limit": 100}, headers=alice).json()
    assert [note["id"] for note in rest["items"]] == ids[::-1][2:]
    assert client.get("/notes", params={"offset": 5}, headers=alice).json()["items"] == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/notes", {"title": ""}),
        ("POST", "/notes", {"title": "x" * 201}),
        ("POST", "/notes", {"title": "ok", "body": "x" * 10_001}),
        ("POST", "/notes", {"title": "a\u0000b"}),  # PostgreSQL cannot store NUL
        ("POST", "/notes", {"title": "ok", "body": "\ud800"}),  # a lone surrogate has no UTF-8 form
        ("PATCH", "/notes/1", {"title": "a\u0000b"}),
        ("GET", "/notes/0", None),
        ("GET", "/notes/2147483648", None),  # beyond the column: the database would refuse it
        ("GET", "/notes/99999999999", None),
        ("DELETE", "/notes/9223372036854775808", None),
        ("GET", "/notes?offset=9223372036854775808", None),
        ("GET", "/notes?offset=-1", None),
        ("GET", "/notes?limit=101", None),
        ("GET", "/notes?limit=0", None),
    ],
)
def test_input_beyond_what_the_database_holds_is_a_422(
    client: TestClient, alice: dict[str, str], method: str, path: str, body: dict[str, str] | None
) -> None:
    add(client, alice, "ok")
    # Sent as ASCII JSON: a lone surrogate travels as its escape, "\\ud800", as a client may send it.
    content = json.dumps(body) if body is not None else None
    response = client.request(method, path, content=content, headers={**alice, "Content-Type": "application/json"})
    assert (response.status_code, response.json()["code"]) == (422, "validation_error"), response.text


def test_the_largest_id_the_column_holds_is_a_plain_404(client: TestClient, alice: dict[str, str]) -> None:
    response = client.get("/notes/2147483647", headers=alice)
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_notes_need_a_token(client: TestClient, user: dict[str, str]) -> None:
    for method, path in (("POST", ""), ("GET", ""), ("GET", "/1"), ("PATCH", "/1"), ("DELETE", "/1")):
        response = client.request(method, f"/notes{path}", json={"title": "x"})
        assert (response.status_code, response.json()["code"]) == (401, "missing_token"), (method, path)


def test_an_accounts_notes_go_with_it(client: TestClient, alice: dict[str, str]) -> None:
    note = add(client, alice, "mine")
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        session.delete(users_service.get_by_username(session, "alice"))
        session.commit()
        assert session.get(Note, note["id"]) is None  # the foreign key's ON DELETE CASCADE, on both databases
