"""A value the database refuses (text it cannot store, a number beyond its column) is the client's input:
422 `invalid_data`, never a 500, and the request's session is rolled back and given back to the pool.

Routes bound their input so this never happens (notes/schemas.py); these routes leave the bounds out on
purpose, to show what a route that forgets them costs: a refusal, on the database the project uses.
"""

from typing import Annotated

from fastapi import Path
from fastapi.testclient import TestClient
from sqlmodel import select

from {{ cookiecutter.package_name }}.database import SessionDep
from {{ cookiecutter.package_name }}.notes.models import Note
from {{ cookiecutter.package_name }}.users.dependencies import CurrentUser

from .conftest import bearer


def add_unbounded_routes(client: TestClient) -> None:
    app = client.app

    @app.get("/unbounded/{note_id}")  # type: ignore[attr-defined, untyped-decorator]
    def read(note_id: Annotated[int, Path()], session: SessionDep) -> int:
        return len(session.exec(select(Note).where(Note.id == note_id)).all())

    @app.post("/unbounded")  # type: ignore[attr-defined, untyped-decorator]
    def add(title: str, user: CurrentUser, session: SessionDep, owner_id: int | None = None) -> int:
        note = Note(owner_id=user.id if owner_id is None else owner_id, title=title)
        session.add(note)
        session.commit()
        assert note.id is not None
        return note.id


def test_a_number_beyond_the_column_is_a_422(client: TestClient) -> None:
    add_unbounded_routes(client)
    # Beyond PostgreSQL's integer, then beyond any 64-bit integer (SQLite's driver refuses that one itself).
    for note_id in (2**31, 2**63):
        response = client.get(f"/unbounded/{note_id}")
        assert (response.status_code, response.json()["code"]) == (422, "invalid_data")
    for _ in range(3 * 40):  # more than the pool holds: each failed request gave its connection back
        assert client.get("/unbounded/1").json() == 0


def test_a_refused_write_is_a_422_and_writes_go_on(client: TestClient, tokens: dict[str, str]) -> None:
    add_unbounded_routes(client)
    headers = bearer(tokens["access_token"])
    beyond = client.post("/unbounded", params={"title": "x", "owner_id": 2**63}, headers=headers)
    assert (beyond.status_code, beyond.json()["code"]) == (422, "invalid_data")
    nul = client.post("/unbounded", params={"title": "a\x00b"}, headers=headers)
    {%- if cookiecutter.database == "postgresql" %}
    assert (nul.status_code, nul.json()["code"]) == (422, "invalid_data")
    {%- else %}
    assert nul.status_code == 200  # SQLite stores a NUL; PostgreSQL refuses one, which is why routes pass `Text`
    {%- endif %}
    for _ in range(3):  # the failed writes' transactions (and SQLite's write lock) are gone
        assert client.post("/unbounded", params={"title": "fine"}, headers=headers).status_code == 200
