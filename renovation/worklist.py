"""The list of items an official keeps current: their street's items, filtered."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, contains_eager

from renovation.models import Community, RenovationItem, Role, Street, User
from renovation.status import Status

PAGE_SIZE = 50


@dataclass(frozen=True)
class Filters:
    street_code: str | None = None
    status: Status | None = None
    kind: str | None = None
    overdue: bool = False
    text: str = ""
    page: int = 1


@dataclass(frozen=True)
class WorklistPage:
    items: list[RenovationItem]
    total: int
    page: int
    pages: int
    street: Street | None


def worklist(session: Session, user: User, filters: Filters, *,
             today: dt.date | None = None) -> WorklistPage:
    """Items visible to `user` in their list: an official's own street; others any street."""
    today = today or dt.date.today()
    street = None
    if user.role is Role.OFFICIAL:
        street = session.get(Street, user.street_id)
    elif filters.street_code:
        street = session.scalar(sa.select(Street).where(Street.code == filters.street_code))
    query = (sa.select(RenovationItem).join(Community, RenovationItem.community)
             .options(contains_eager(RenovationItem.community)))
    if street is not None:
        query = query.where(Community.street_id == street.id)
    if filters.status is not None:
        query = query.where(RenovationItem.status == filters.status)
    if filters.kind:
        query = query.where(RenovationItem.kind == filters.kind)
    if filters.overdue:
        query = query.where(RenovationItem.planned_end < today,
                            RenovationItem.status.not_in([Status.COMPLETED, Status.ACCEPTED]))
    if filters.text:
        pattern = "%" + filters.text.replace("\\", "\\\\").replace("%", "\\%")\
            .replace("_", "\\_") + "%"
        query = query.where(sa.or_(RenovationItem.title.like(pattern, escape="\\"),
                                   Community.name.like(pattern, escape="\\")))
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(filters.page, 1), pages)
    items = session.scalars(query.order_by(Community.code, RenovationItem.id)
                            .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).unique().all()
    return WorklistPage(list(items), total, page, pages, street)
