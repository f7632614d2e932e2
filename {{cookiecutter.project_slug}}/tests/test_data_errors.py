"""A value the database refuses (text it cannot store, a number beyond its column) is the client's input:
422 `invalid_data`, never a 500, and the request's session is rolled back and given back to the pool.

Routes bound their input so this never happens (notes/schemas.py); these routes leave the bounds out on
purpose, to show what a route that forgets them costs: a refusal, on the database the project uses.
"""

from typing import Annotated

from fastapi import Path
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from {{ cookiecutter.package_name }}.database import SessionDep
from {{ cookiecutter.package_name }}.notes.models import Note
from {{ cookiecutter.package_name }}.users import service as users_service
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
{%- if cookiecutter.database == "postgresql" %}
    for note_id in (2**31, 2**63):  # beyond the integer column, then beyond any 64-bit integer
{%- else %}
    assert client.get(f"/unbounded/{2**31}").json() == 0  # SQLite's integers have 64 bits
    for note_id in (2**63,):  # beyond any 64-bit integer: the driver refuses it itself (sqlite.py)
{%- endif %}
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


def test_an_admin_page_offset_beyond_what_the_database_takes_is_a_422(client: TestClient, tokens: dict[str, str]) -> None:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        alice = users_service.get_by_username(session, "alice")
        assert alice is not None
        users_service.set_admin(session, alice, True)
    headers = bearer(tokens["access_token"])
    for offset in (2**63, 2**31):  # PostgreSQL's OFFSET takes a bigint: the first was a 500 there
        response = client.get("/admin/users", params={"offset": offset}, headers=headers)
        assert (response.status_code, response.json()["code"]) == (422, "validation_error"), offset
    assert client.get("/admin/users", params={"offset": 2**31 - 1}, headers=headers).json()["items"] == []
