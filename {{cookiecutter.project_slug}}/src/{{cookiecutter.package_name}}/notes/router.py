"""Notes: each user reads and writes their own. Thin routes over service.py; the refusals that follow from
the dependencies (a token: 401/403, a body or a parameter: 413/422, the database: 503) are documented by
errors.py, so a route declares only what its own code raises (404)."""

from typing import Any

from fastapi import APIRouter, Response, status

from ..database import SessionDep
from ..errors import refusals
from ..users.dependencies import CurrentUser
from . import service
from .schemas import Limit, NoteCreate, NoteId, NotePage, NotePublic, NoteUpdate, Offset

router = APIRouter(prefix="/notes", tags=["notes"])
NO_SUCH_NOTE = refusals(404)
NO_CONTENT: dict[str, Any] = {"status_code": status.HTTP_204_NO_CONTENT, "response_class": Response}


@router.post("", status_code=status.HTTP_201_CREATED)
def add_note(new: NoteCreate, user: CurrentUser, session: SessionDep) -> NotePublic:
    """Keep a note."""
    return NotePublic.of(service.add(session, user.id, new))


@router.get("")
def list_notes(user: CurrentUser, session: SessionDep, offset: Offset = 0, limit: Limit = 20) -> NotePage:
    """Your notes, newest first, a page at a time."""
    notes, total = service.page(session, user.id, offset, limit)
    return NotePage(items=[NotePublic.of(note) for note in notes], total=total, offset=offset, limit=limit)


@router.get("/{note_id}", responses=NO_SUCH_NOTE)
def read_note(note_id: NoteId, user: CurrentUser, session: SessionDep) -> NotePublic:
    """One of your notes."""
    return NotePublic.of(service.get(session, user.id, note_id))


@router.patch("/{note_id}", responses=NO_SUCH_NOTE)
def update_note(note_id: NoteId, changes: NoteUpdate, user: CurrentUser, session: SessionDep) -> NotePublic:
    """Change the title or the body of one of your notes."""
    return NotePublic.of(service.update(session, user.id, note_id, changes))


@router.delete("/{note_id}", responses=NO_SUCH_NOTE, **NO_CONTENT)
def delete_note(note_id: NoteId, user: CurrentUser, session: SessionDep) -> None:
    """Delete one of your notes."""
    service.delete(session, user.id, note_id)
