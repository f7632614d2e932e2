"""What a user may do with their notes. Every query is scoped to the owner: another user's note does not
exist for them (404, never 403, which would say that it does)."""

from fastapi import HTTPException, status
from sqlalchemy import func
from sqlmodel import Session, col, select

from ..database import utcnow
from .models import Note
from .schemas import NoteCreate, NoteUpdate


def add(session: Session, owner_id: int, new: NoteCreate) -> Note:
    note = Note(owner_id=owner_id, title=new.title, body=new.body)
    session.add(note)
    session.commit()
    return note


def page(session: Session, owner_id: int, offset: int, limit: int) -> tuple[list[Note], int]:
    """A page of the owner's notes, newest first; and how many they have in all."""
    total = session.exec(select(func.count()).select_from(Note).where(Note.owner_id == owner_id)).one()
    newest_first = (col(Note.created_at).desc(), col(Note.id).desc())  # the id breaks ties between equal times
    owned = select(Note).where(Note.owner_id == owner_id)
    return list(session.exec(owned.order_by(*newest_first).offset(offset).limit(limit))), total


def get(session: Session, owner_id: int, note_id: int) -> Note:
    note = session.exec(select(Note).where(Note.id == note_id, Note.owner_id == owner_id)).first()
    if note is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such note")  # answered with code not_found (main.py)
    return note


def update(session: Session, owner_id: int, note_id: int, changes: NoteUpdate) -> Note:
    note = get(session, owner_id, note_id)
    for field, value in changes.model_dump(exclude_none=True).items():
        setattr(note, field, value)
    note.updated_at = utcnow()
    session.add(note)
    session.commit()
    return note


def delete(session: Session, owner_id: int, note_id: int) -> None:
    session.delete(get(session, owner_id, note_id))
    session.commit()
