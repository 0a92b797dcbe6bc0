"""The statuses a renovation item passes through, with their names and colours."""

from __future__ import annotations

import enum


class Status(enum.StrEnum):
    """Where an item stands; the order is the normal course of a project."""

    PLANNED = "planned"  # 待启动
    CONSULTING = "consulting"  # 征询中: residents are asked (a lift needs the unit's owners)
    DESIGN = "design"  # 设计中
    CONSTRUCTION = "construction"  # 施工中
    COMPLETED = "completed"  # 已完工
    ACCEPTED = "accepted"  # 已验收
    SUSPENDED = "suspended"  # 暂缓

    @property
    def is_done(self) -> bool:
        return self in (Status.COMPLETED, Status.ACCEPTED)

    def label(self, locale: str) -> str:
        zh, en = _NAMES[self]
        return en if locale.startswith("en") else zh

    def lazy_label(self):
        """How messages built in services name the status, in the reader's language.

        English names it by its code (what the API and spreadsheets take); Chinese by
        its label with the code beside it, e.g. "施工中 (construction)".
        """
        from flask_babel import LazyString, get_locale

        def text() -> str:
            locale = str(get_locale() or "en")
            return self.value if locale.startswith("en") else f"{self.label(locale)} ({self.value})"

        return LazyString(text)


_NAMES = {
    Status.PLANNED: ("待启动", "Planned"),
    Status.CONSULTING: ("征询中", "Consulting residents"),
    Status.DESIGN: ("设计中", "Design"),
    Status.CONSTRUCTION: ("施工中", "Under construction"),
    Status.COMPLETED: ("已完工", "Completed"),
    Status.ACCEPTED: ("已验收", "Accepted"),
    Status.SUSPENDED: ("暂缓", "Suspended"),
}

STATUS_COLOURS = {
    Status.PLANNED: "#9e9e9e",
    Status.CONSULTING: "#fdd835",
    Status.DESIGN: "#ffb300",
    Status.CONSTRUCTION: "#fb8c00",
    Status.COMPLETED: "#43a047",
    Status.ACCEPTED: "#1b5e20",
    Status.SUSPENDED: "#8e24aa",
}

#: The least progress (%) an item in each status can show, and the most.
PROGRESS_RANGE = {
    Status.PLANNED: (0, 0),
    Status.CONSULTING: (0, 20),
    Status.DESIGN: (5, 40),
    Status.CONSTRUCTION: (10, 99),
    Status.COMPLETED: (100, 100),
    Status.ACCEPTED: (100, 100),
    Status.SUSPENDED: (0, 99),
}
