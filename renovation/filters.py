"""One set of filters for the maps, tables, dashboard and exports, read from the URL query.

A planner narrows what they see by street, item kind, status, year built, pilot
communities only and overdue items only. The filters live in the query string
(``?street=...&kind=lift_retrofit&overdue=1``), so a link reproduces the view, and
every part of the app reads them with :meth:`Filters.from_args` and applies them as
SQL clauses, so the map, the tables, the dashboard and an export of the same link
select the same things.

What a filter selects, at each level:

- **items**: every filter applies (street, year built and pilot through the item's
  community);
- **communities**: street, year built and pilot apply to the community; kind,
  status and overdue keep the communities with at least one item that matches;
- **figures** (progress, counts, overdue) are always those of the selected items:
  with ``kind=lift_retrofit`` a street's progress is the progress of its lifts.

Query parameters
----------------
street
    A street code, e.g. ``110107002000``.
kind
    Item kind codes from the catalogue; several as ``kind=a,b`` or ``kind=a&kind=b``.
status
    Status codes (``planned`` ... ``suspended``), several as for kind.
built_from, built_to
    Years: communities built in that span (both ends included); a community whose
    year is not known is left out when either is given.
pilot
    ``1``: pilot communities only.
overdue
    ``1``: items past their planned end and not done (and their communities).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _

from renovation.catalogue import BY_CODE
from renovation.errors import DomainError
from renovation.models import Community, RenovationItem, Street
from renovation.progress import DONE_STATUSES
from renovation.status import Status

#: The query parameters the filters use, in the order links write them.
PARAMS = ("street", "kind", "status", "built_from", "built_to", "pilot", "overdue")
EARLIEST_YEAR, LATEST_YEAR = 1000, 2100
MAX_STREET_CODE = 32
_TRUE, _FALSE = ("1", "true", "on", "yes"), ("", "0", "false", "off", "no")


@dataclass(frozen=True)
class Filters:
    """What a view shows. The empty filter (``Filters()``) selects everything."""

    street: str | None = None
    kinds: tuple[str, ...] = ()
    statuses: tuple[Status, ...] = ()
    built_from: int | None = None
    built_to: int | None = None
    pilot_only: bool = False
    overdue_only: bool = False

    # --- Reading and writing the query string ----------------------------------------------

    @classmethod
    def from_args(cls, args: Mapping) -> Filters:
        """The filters in `args` (``request.args`` or a dict), checked.

        Raises
        ------
        DomainError
            (400) naming the parameter that is wrong, in the reader's language.
        """
        if not any(name in args for name in _PARAMETERS):
            return cls()  # what the maps ask for as they move: nothing to check
        street = (_values(args, "street") or [""])[-1].strip() or None
        if street is not None and len(street) > MAX_STREET_CODE:
            raise DomainError(_("street must be a street code."))
        kinds = _split(_values(args, "kind"))
        unknown = [k for k in kinds if k not in BY_CODE]
        if unknown:
            raise DomainError(_("Unknown item kind: %(kinds)s.",
                                kinds=", ".join(k[:40] for k in unknown[:5])))
        status_codes = _split(_values(args, "status"))
        known = {s.value for s in Status}
        unknown = [s for s in status_codes if s not in known]
        if unknown:
            raise DomainError(_("Unknown status: %(value)s.",
                                value=", ".join(s[:40] for s in unknown[:5])))
        built_from = _year(args, "built_from")
        built_to = _year(args, "built_to")
        if built_from is not None and built_to is not None and built_from > built_to:
            raise DomainError(_("built_from must not be later than built_to."))
        return cls(street=street, kinds=tuple(kinds),
                   statuses=tuple(Status(s) for s in status_codes),
                   built_from=built_from, built_to=built_to,
                   pilot_only=_flag(args, "pilot"), overdue_only=_flag(args, "overdue"))

    def to_args(self) -> dict[str, str]:
        """The filters as query parameters (only those set), for links and layer URLs.

        >>> Filters(kinds=("lift_retrofit", "parking"), overdue_only=True).to_args()
        {'kind': 'lift_retrofit,parking', 'overdue': '1'}
        """
        args = {"street": self.street or "", "kind": ",".join(self.kinds),
                "status": ",".join(s.value for s in self.statuses),
                "built_from": "" if self.built_from is None else str(self.built_from),
                "built_to": "" if self.built_to is None else str(self.built_to),
                "pilot": "1" if self.pilot_only else "",
                "overdue": "1" if self.overdue_only else ""}
        return {name: value for name, value in args.items() if value}

    @property
    def is_empty(self) -> bool:
        return self == Filters()

    @property
    def selects_items(self) -> bool:
        """Whether some filter is about items (kind, status, overdue)."""
        return bool(self.kinds or self.statuses or self.overdue_only)

    def but(self, **changes) -> Filters:
        """A copy with some filters changed, e.g. ``filters.but(street=None)``."""
        return dataclasses.replace(self, **changes)

    # --- SQL --------------------------------------------------------------------------------

    def community_own_clauses(self) -> list:
        """Clauses on :class:`Community` alone: street, year built, pilot."""
        clauses = []
        if self.street:
            clauses.append(Community.street_id.in_(
                sa.select(Street.id).where(Street.code == self.street)))
        if self.built_from is not None:
            clauses.append(Community.year_built >= self.built_from)
        if self.built_to is not None:
            clauses.append(Community.year_built <= self.built_to)
        if self.pilot_only:
            clauses.append(Community.is_pilot.is_(True))
        return clauses

    def item_own_clauses(self, today: dt.date) -> list:
        """Clauses on :class:`RenovationItem` alone: kind, status, overdue on `today`."""
        clauses = []
        if self.kinds:
            clauses.append(RenovationItem.kind.in_(self.kinds))
        if self.statuses:
            clauses.append(RenovationItem.status.in_(self.statuses))
        if self.overdue_only:
            clauses.append(RenovationItem.planned_end < today)
            clauses.append(RenovationItem.status.not_in(DONE_STATUSES))
        return clauses

    def item_clauses(self, today: dt.date | None = None) -> list:
        """Clauses for a query over items joined to their communities."""
        today = today or dt.date.today()
        return self.community_own_clauses() + self.item_own_clauses(today)

    def has_matching_items(self, today: dt.date | None = None):
        """SQL: the community (of the enclosing query) has an item the filters select."""
        today = today or dt.date.today()
        return (sa.exists().where(RenovationItem.community_id == Community.id,
                                  *self.item_own_clauses(today)))

    def community_clauses(self, today: dt.date | None = None) -> list:
        """Clauses for a query over communities: their own filters, and matching items."""
        clauses = self.community_own_clauses()
        if self.selects_items:
            clauses.append(self.has_matching_items(today))
        return clauses


#: The query parameters :meth:`Filters.from_args` reads.
_PARAMETERS = ("street", "kind", "status", "built_from", "built_to", "pilot", "overdue")


def _values(args: Mapping, name: str) -> list[str]:
    if hasattr(args, "getlist"):
        return [str(v) for v in args.getlist(name)]
    value = args.get(name)
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def _split(values: list[str]) -> list[str]:
    found: list[str] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if part and part not in found:
                found.append(part)
    return found


def _year(args: Mapping, name: str) -> int | None:
    text = (_values(args, name) or [""])[-1].strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) == 4
            and EARLIEST_YEAR <= int(text) <= LATEST_YEAR):
        raise DomainError(_("%(name)s must be a year from %(first)d to %(last)d.",
                            name=name, first=EARLIEST_YEAR, last=LATEST_YEAR))
    return int(text)


def _flag(args: Mapping, name: str) -> bool:
    text = (_values(args, name) or [""])[-1].strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise DomainError(_("%(name)s must be 1 or 0.", name=name))
