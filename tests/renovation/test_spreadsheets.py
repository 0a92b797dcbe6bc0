"""Spreadsheet round-trip: download a street's items, edit them in XLSX or CSV, upload.

An upload is all-or-nothing: one bad row and nothing changes, and the report names every
bad row. Files that are not spreadsheets, zip bombs and oversized files are refused with
a 4xx. Messages are checked in English (the ``lang`` cookie), since the Chinese
catalogue is maintained separately.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import re
import zipfile

import openpyxl
import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from factories import make_item
from renovation import spreadsheet, workflow
from renovation.catalogue import BY_CODE
from renovation.demo import DEMO_PASSWORD
from renovation.errors import DomainError
from renovation.models import Community, ItemChange, RenovationItem, Street, User
from renovation.progress import progress_by
from renovation.status import PROGRESS_RANGE, Status

LAOSHAN, BABAOSHAN = "110107002000", "110107001000"
OFFICIAL = "official-laoshan"
TODAY = dt.date.today()
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


# --- Helpers --------------------------------------------------------------------------------

def csrf_token(client) -> str:
    return CSRF.search(client.get("/login").get_data(as_text=True)).group(1)


def sign_in(client, username: str | None):
    """Sign `client` in as `username` (None: stay anonymous), reading messages in English."""
    client.set_cookie("lang", "en")
    if username is None:
        return
    response = client.post("/login", data={"username": username, "password": DEMO_PASSWORD,
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


def post_file(client, data: bytes, filename: str = "items.xlsx", code: str = LAOSHAN, *,
              token: bool = True):
    form = {"file": FileStorage(io.BytesIO(data), filename,
                                content_type="application/octet-stream")}
    if token:
        form["csrf_token"] = csrf_token(client)
    # Encoded here in memory: the test client would spool a big body to a temporary file
    # that it never closes (a ResourceWarning, an error under filterwarnings=error).
    boundary, body = encode_multipart(form)
    return client.post(f"/streets/{code}/items/upload", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def snapshot(session) -> tuple[dict, int]:
    """Every item's (status, progress, version), and the number of history rows."""
    session.rollback()  # start a new transaction: see what others committed
    items = {row.id: (row.status, row.progress_pct, row.version) for row in session.execute(
        sa.select(RenovationItem.id, RenovationItem.status, RenovationItem.progress_pct,
                  RenovationItem.version))}
    return items, session.scalar(sa.select(sa.func.count(ItemChange.id)))


def street_of(session, code: str) -> Street:
    return session.scalar(sa.select(Street).where(Street.code == code))


def user_of(session, username: str) -> User:
    return session.scalar(sa.select(User).where(User.username == username))


def problems_of(response) -> dict[int, str]:
    """Row number -> problem text, from the result page's table."""
    html = response.get_data(as_text=True)
    found = re.findall(r'<tr class="[^"]*" data-row="(\d+)">.*?<td class="text-break">(.*?)</td>',
                       html, re.S)
    return {int(row): text for row, text in found}


class Table:
    """A downloaded file as a header and rows of strings keyed by column code, to edit."""

    def __init__(self, codes: list[str], rows: list[dict]):
        self.codes, self.rows = codes, rows

    @classmethod
    def from_xlsx(cls, data: bytes) -> Table:
        sheet = openpyxl.load_workbook(io.BytesIO(data))[spreadsheet.ITEMS_SHEET]
        values = list(sheet.iter_rows(values_only=True))
        codes = [header.split()[-1] for header in values[0]]
        return cls(codes, [dict(zip(codes, row, strict=True)) for row in values[1:]])

    @classmethod
    def from_csv(cls, data: bytes) -> Table:
        assert data.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
        values = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
        codes = [header.split()[-1] for header in values[0]]
        return cls(codes, [dict(zip(codes, row, strict=True)) for row in values[1:]])

    def headers(self) -> list[str]:
        return [spreadsheet.BY_COLUMN[code].header for code in self.codes]

    def to_xlsx(self, codes: list[str] | None = None, headers: list[str] | None = None,
                title_row: str | None = None) -> bytes:
        codes = codes or self.codes
        book = openpyxl.Workbook()
        sheet = book.active
        if title_row:
            sheet.append([title_row])
        sheet.append(headers or [spreadsheet.BY_COLUMN[c].header for c in codes])
        for row in self.rows:
            sheet.append([row.get(code) for code in codes])
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()

    def to_csv(self, encoding: str = "utf-8-sig", codes: list[str] | None = None,
               headers: list[str] | None = None) -> bytes:
        codes = codes or self.codes
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(headers or [spreadsheet.BY_COLUMN[c].header for c in codes])
        for row in self.rows:
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in codes])
        return out.getvalue().encode(encoding)

    def row_number(self, index: int, *, above: int = 1) -> int:
        return index + 1 + above


def forward_move(status: Status) -> Status:
    """The next status in the normal course, else any allowed one."""
    order = list(Status)
    moves = workflow.next_statuses(status)
    later = [s for s in moves if order.index(s) > order.index(status)]
    return (later or moves)[0]


def plan_edits(table: Table, count: int = 30) -> dict[int, tuple[Status, int, str]]:
    """Edit the first `count` rows of `table` in place: status moves, progress, notes.

    An accepted item can only take a note; every edited row changes something.

    Returns item id -> the (status, progress, note) the item should have afterwards.
    """
    expected = {}
    assert len(table.rows) >= count, "the demo street has too few items for this test"
    for i, row in enumerate(table.rows[:count]):
        status, progress = Status(row["status"]), int(row["progress"])
        low, high = PROGRESS_RANGE[status]
        note = ""
        if i % 3 == 0 and workflow.next_statuses(status):
            status = forward_move(status)
            low, high = PROGRESS_RANGE[status]
            progress = (low + high) // 2
            row["status"], row["progress"] = status.value, progress
            note = f"第{i}项：现场核实 checked on site"
        elif i % 3 == 1 and high > low:
            progress = low if progress != low else high
            row["progress"] = progress
        else:
            note = f"居民议事会意见已记录 #{i}"
        row["note"] = note
        if i % 5 == 0:
            row["date"] = (TODAY - dt.timedelta(days=3)).isoformat()
        expected[int(row["id"])] = (status, progress, note)
    return expected


def street_percent(session, street: Street) -> float:
    return progress_by(session, Community.street_id,
                       where=[Community.street_id == street.id])[street.id].percent


def expected_percent(session, street: Street, changed: dict[int, tuple]) -> float:
    """The street's progress recomputed by hand from the items and the expected changes."""
    items = session.scalars(sa.select(RenovationItem).join(Community, RenovationItem.community)
                            .where(Community.street_id == street.id)).all()
    weights = {item.id: BY_CODE[item.kind].weight for item in items}
    progress = {item.id: item.progress_pct for item in items}
    progress.update({item_id: change[1] for item_id, change in changed.items()})
    total = sum(weights[i] * progress[i] for i in weights)
    return round(total / sum(weights.values()), 1)


# --- The round trip -------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_round_trip_applies_thirty_changes_each_with_its_history_row(client, app_session, fmt):
    sign_in(client, OFFICIAL)
    street = street_of(app_session, LAOSHAN)
    official = user_of(app_session, OFFICIAL)
    before_items, before_history = snapshot(app_session)
    before_percent = street_percent(app_session, street)

    download = client.get(f"/streets/{LAOSHAN}/items.{fmt}")
    assert download.status_code == 200
    disposition = download.headers["Content-Disposition"]
    assert f'filename="{LAOSHAN}-items-{TODAY.isoformat()}.{fmt}"' in disposition
    assert disposition.startswith("attachment")
    table = Table.from_xlsx(download.data) if fmt == "xlsx" else Table.from_csv(download.data)
    street_items = app_session.scalars(
        sa.select(RenovationItem.id).join(Community, RenovationItem.community)
        .where(Community.street_id == street.id)).all()
    assert sorted(int(row["id"]) for row in table.rows) == sorted(street_items)
    expected = plan_edits(table)
    want_percent = expected_percent(app_session, street, expected)
    # Excel in China saves CSV in GB18030 (GBK) without a BOM.
    data = table.to_xlsx() if fmt == "xlsx" else table.to_csv("gb18030")

    response = post_file(client, data, f"items.{fmt}")

    assert response.status_code == 200, problems_of(response)
    assert "30 items changed" in response.get_data(as_text=True)
    after_items, after_history = snapshot(app_session)
    assert after_history == before_history + 30
    changes = app_session.scalars(sa.select(ItemChange).where(ItemChange.id > 0)
                                  .order_by(ItemChange.id.desc()).limit(30)).all()
    assert {c.item_id for c in changes} == set(expected)
    assert {(c.user_id, c.source) for c in changes} == {(official.id, "spreadsheet")}
    moved = set()
    for change in changes:
        status, progress, note = expected[change.item_id]
        assert (change.status_after, change.progress_after, change.note) == (status, progress,
                                                                             note)
        assert after_items[change.item_id][:2] == (status, progress)
        assert change.version_after == after_items[change.item_id][2]
        if (status, progress) != before_items[change.item_id][:2]:
            moved.add(change.item_id)
            assert change.version_after == before_items[change.item_id][2] + 1
    assert len(moved) >= 10
    dated = [c for c in changes if c.effective_date != TODAY]
    assert dated and {c.effective_date for c in dated} == {TODAY - dt.timedelta(days=3)}
    untouched = set(before_items) - set(expected)
    assert {i: after_items[i] for i in untouched} == {i: before_items[i] for i in untouched}
    assert street_percent(app_session, street) == pytest.approx(want_percent, abs=0.05)
    assert street_percent(app_session, street) != before_percent

    # The same file again: its status and progress are now the state, but the notes would
    # be added a second time, and the moved items' versions are old: refused.
    again = post_file(client, data, f"items.{fmt}")
    assert again.status_code in (400, 409)
    stale = {table.row_number(i) for i, row in enumerate(table.rows)
             if row["note"] and int(row["id"]) in moved}
    assert stale and stale <= set(problems_of(again))
    assert snapshot(app_session) == (after_items, after_history)


def test_the_xlsx_is_made_for_people(client):
    sign_in(client, OFFICIAL)
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/streets/{LAOSHAN}/items.xlsx").data))
    assert book.sheetnames == [spreadsheet.ITEMS_SHEET, spreadsheet.HELP_SHEET]
    sheet = book[spreadsheet.ITEMS_SHEET]
    headers = [cell.value for cell in sheet[1]]
    assert "状态 status" in headers and "编号 id" in headers and "进度 progress" in headers
    assert sheet.freeze_panes == "A2"
    letter = {h.split()[-1]: openpyxl.utils.get_column_letter(i)
              for i, h in enumerate(headers, start=1)}
    lists = [v for v in sheet.data_validations.dataValidation if v.type == "list"]
    assert len(lists) == 1 and str(lists[0].sqref).startswith(f"{letter['status']}2:")
    assert lists[0].formula1.strip('"').split(",") == [s.value for s in Status]
    grey, white = sheet[f"{letter['title']}2"], sheet[f"{letter['status']}2"]
    assert grey.fill.fgColor.rgb.endswith("EDEDED") and white.fill.fill_type is None
    assert sheet.column_dimensions[letter["title"]].width >= 20
    help_text = [row for row in book[spreadsheet.HELP_SHEET].iter_rows(values_only=True)]
    moves = {row[0]: row[4] for row in help_text if row[0] in {s.value for s in Status}}
    assert moves["planned"] == "consulting, suspended" and moves["accepted"] == "—"
    ranges = {row[0]: row[3] for row in help_text if row[0] in {s.value for s in Status}}
    assert ranges["construction"] == "10–99" and ranges["completed"] == "100"


# --- All or nothing -------------------------------------------------------------------------

def test_one_bad_row_among_good_ones_changes_nothing(client, app_session):
    sign_in(client, OFFICIAL)
    table = Table.from_xlsx(client.get(f"/streets/{LAOSHAN}/items.xlsx").data)
    plan_edits(table, 10)
    bad = next(i for i, row in enumerate(table.rows) if row["status"] == "planned")
    table.rows[bad]["status"] = "accepted"
    before = snapshot(app_session)

    response = post_file(client, table.to_xlsx())

    assert response.status_code == 400
    assert "Nothing was changed" in response.get_data(as_text=True)
    problems = problems_of(response)
    assert list(problems) == [table.row_number(bad)]
    assert "cannot move from planned to accepted" in problems[table.row_number(bad)]
    assert snapshot(app_session) == before


def _rows(session) -> list[dict]:
    return spreadsheet.export_rows(session, street_of(session, LAOSHAN))


def _apply(session, rows: list[dict], username: str = OFFICIAL, data: bytes | None = None):
    parsed = spreadsheet.read_upload(data or spreadsheet.write_csv(rows), "items.csv")
    return spreadsheet.apply_upload(session, user_of(session, username), parsed, today=TODAY,
                                    street=street_of(session, LAOSHAN))


def _first(rows: list[dict], status: str) -> int:
    return next(i for i, row in enumerate(rows) if row["status"] == status)


def _bad_row_cases(session) -> dict:
    other = session.scalars(sa.select(RenovationItem).join(Community, RenovationItem.community)
                            .join(Street).where(Street.code == BABAOSHAN)
                            .where(RenovationItem.status == Status.PLANNED)).first()

    def other_street(row):
        row.update(id=other.id, version=other.version, status="consulting")

    return {
        # case: (edit of one planned row, text the report gives for it)
        "unknown id": (lambda r: r.update(id=99_999_999, note="x"),
                       "There is no item number 99999999"),
        "other street": (other_street, "belongs to another street"),
        "stale version": (lambda r: r.update(version=r["version"] + 1, status="consulting"),
                          "Someone changed this item since you loaded it"),
        "disallowed move": (lambda r: r.update(status="completed"),
                            "cannot move from planned to completed"),
        "progress 150": (lambda r: r.update(progress=150),
                         "whole number from 0 to 100, not 150"),
        "progress abc": (lambda r: r.update(progress="abc"), "must be a number from 0 to 100"),
        "progress not fitting": (lambda r: r.update(progress=50),
                                 "does not fit the status planned"),
        "unknown status": (lambda r: r.update(status="finished"), "Unknown status: finished"),
        "bad date": (lambda r: r.update(note="x", date="2026-13-45"),
                     "The date must look like 2026-05-31"),
        "future date": (lambda r: r.update(note="x", date=(TODAY + dt.timedelta(days=30))
                                           .isoformat()), "is not possible for a change"),
        "note too long": (lambda r: r.update(note="长" * 2001), "The note is too long"),
        "no id": (lambda r: r.update(id="", note="new lift"), "new items cannot be added"),
        "missing version": (lambda r: r.update(version="", note="x"), "Say which version"),
    }


def test_every_kind_of_bad_row_is_reported_and_nothing_applied(session):
    rows = _rows(session)
    good = [i for i, row in enumerate(rows) if row["status"] == "consulting"][:3]
    for i in good:
        rows[i].update(status="design", progress=10, note="设计单位已进场")
    assert _apply(session, rows).changed == 3
    session.rollback()
    before = snapshot(session)
    target = _first(rows, "planned")
    for name, (edit, text) in _bad_row_cases(session).items():
        case = [dict(row) for row in rows]
        edit(case[target])
        result = _apply(session, case)
        assert not result.ok and result.changed == 0, name
        assert [(p.row, p.item_id is not None) for p in result.problems] == \
            [(target + 2, name != "no id")], (name, result.problems)
        assert text in result.problems[0].message, (name, result.problems[0].message)
        assert result.only_stale is (name == "stale version"), name
        session.rollback()
        assert snapshot(session) == before, name


def test_duplicate_rows_and_many_bad_rows_are_all_reported(session):
    rows = _rows(session)
    planned = [i for i, row in enumerate(rows) if row["status"] == "planned"]
    rows[planned[0]].update(status="consulting", progress=5)
    duplicate = dict(rows[planned[0]], note="again")
    rows.append(duplicate)
    rows[planned[1]].update(progress=150)
    rows[planned[2]].update(status="accepted")
    before = snapshot(session)
    result = _apply(session, rows)
    assert [p.row for p in result.problems] == [planned[1] + 2, planned[2] + 2, len(rows) + 1]
    assert f"appears more than once in the file (first in row {planned[0] + 2})" \
        in result.problems[-1].message
    assert snapshot(session) == before


def test_unchanged_rows_are_skipped_even_with_an_old_version(session):
    rows = _rows(session)
    for row in rows:
        row["version"] += 5  # an old file would look the same: nothing in it is lost
    rows[0].update(version=rows[0]["version"] - 5, note="只加一条备注")
    result = _apply(session, rows)
    assert result.ok and (result.changed, result.unchanged) == (1, len(rows) - 1)


def test_admin_may_not_change_another_street_through_this_streets_upload(session):
    rows = _rows(session)
    other = session.scalars(sa.select(RenovationItem).join(Community, RenovationItem.community)
                            .join(Street).where(Street.code == BABAOSHAN)).first()
    rows[0].update(id=other.id, version=other.version, note="x")
    result = _apply(session, rows, "admin")
    assert [p.message for p in result.problems] == [
        f"Item {other.id} is not in this street ({LAOSHAN})."]


def test_planners_and_others_may_change_nothing_through_the_service(session):
    rows = _rows(session)
    rows[0]["note"] = "x"
    for username in ("planner", "moderator", "resident", "official-babaoshan"):
        result = _apply(session, rows, username)
        assert len(result.problems) == len(rows), username  # every row, changed or not
    with pytest.raises(DomainError):  # the API of workflow for anonymous users: 401
        workflow.require_edit(None, session.get(RenovationItem, rows[0]["id"]))


# --- What the reader understands ------------------------------------------------------------

def test_reordered_columns_plain_names_and_a_title_row(session):
    rows = _rows(session)
    target = _first(rows, "planned")
    rows[target].update(status="征询中", progress=15, note="按中文状态")
    second = _first(rows, "consulting")
    rows[second].update(status="Design", progress="20%")
    table = Table(list(rows[0]), rows)
    codes = ["note", "progress", "title", "status", "version", "id"]
    zh = table.to_xlsx(codes, ["备注", "进度", "名称", "状态", "版本", "编号"],
                       title_row="老山街道 更新项目")
    result = _apply(session, rows, data=zh)
    assert result.ok and result.changed == 2, result.problems
    session.rollback()
    en = table.to_csv("utf-8-sig", codes, ["Note", "PROGRESS", "Title", "Status", "Version",
                                           "Item ID"])
    parsed = spreadsheet.read_upload(en, "x.csv")
    assert (parsed[target].status, parsed[target].progress) == (Status.CONSULTING, 15)
    assert (parsed[second].status, parsed[second].progress) == (Status.DESIGN, 20)
    item = session.get(RenovationItem, rows[target]["id"])
    assert (item.status, item.progress_pct) == (Status.PLANNED, 0)  # rolled back


def test_excel_dates_and_numbers_are_read():
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["编号 id", "版本 version", "进度 progress", "日期 date"])
    sheet.append([12.0, 3.0, 40.0, dt.datetime(2025, 4, 1)])
    sheet.append([13, 1, "35", "2025/4/2"])
    sheet.append([None, None, None, None])
    sheet.append([14, 1, None, 45750])  # a date typed into a cell not formatted as one
    out = io.BytesIO()
    book.save(out)
    rows = spreadsheet.read_upload(out.getvalue(), "whatever.bin")
    assert [(r.row, r.item_id, r.version, r.progress, r.effective_date) for r in rows] == [
        (2, 12, 3, 40, dt.date(2025, 4, 1)), (3, 13, 1, 35, dt.date(2025, 4, 2)),
        (5, 14, 1, None, dt.date(2025, 4, 3))]


# --- Formula injection ----------------------------------------------------------------------

@pytest.mark.parametrize("title", ['=HYPERLINK("http://evil.example","点这里")', "+1+1",
                                   "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_text_that_would_run_as_a_formula_is_exported_with_a_quote(title):
    rows = [{"id": 1, "version": 1, "title": title, "community": title, "status": "planned",
             "progress": 0}]
    sheet = openpyxl.load_workbook(io.BytesIO(spreadsheet.write_xlsx(rows)))[
        spreadsheet.ITEMS_SHEET]
    headers = [cell.value.split()[-1] for cell in sheet[1]]
    for code in ("title", "community"):
        cell = sheet.cell(row=2, column=headers.index(code) + 1)
        # Depending on the XML library, a stored CR may come back as LF; the quote matters.
        assert cell.data_type == "s"
        assert cell.value in ("'" + title, "'" + title.replace("\r", "\n"))
    written = list(csv.reader(io.StringIO(spreadsheet.write_csv(rows).decode("utf-8-sig"),
                                          newline="")))
    assert written[1][headers.index("title")] == "'" + title


def test_an_items_formula_title_is_exported_with_a_quote(session):
    street = street_of(session, LAOSHAN)
    item = make_item(session, street.communities[0], title='=HYPERLINK("http://x","y")')
    rows = spreadsheet.export_rows(session, street)
    assert next(r for r in rows if r["id"] == item.id)["title"] == item.title  # data as stored
    sheet = openpyxl.load_workbook(io.BytesIO(spreadsheet.write_xlsx(rows)))[
        spreadsheet.ITEMS_SHEET]
    titles = [row[7] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert "'" + item.title in titles and item.title not in titles
    assert b"'=HYPERLINK" in spreadsheet.write_csv(rows)


# --- Files that are not spreadsheets --------------------------------------------------------

def _xlsx_bytes() -> bytes:
    return spreadsheet.write_xlsx([{"id": i, "version": 1, "title": f"{i}号楼加装电梯",
                                    "status": "planned"} for i in range(1, 60)])


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def _zeros_zip(megabytes: int) -> bytes:
    """A workbook-looking zip with one member of `megabytes` MB of zeros, written in chunks."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as member:
            chunk = bytes(2**20)
            for _ in range(megabytes):
                member.write(chunk)
    return out.getvalue()


def _corrupt_member(data: bytes) -> bytes:
    """The workbook with bytes in the middle of its sheet's compressed data overwritten."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    assert info.compress_size > 200
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    middle = start + info.compress_size // 2
    return data[:middle] + b"\xff" * 40 + data[middle + 40:]


@pytest.fixture(scope="module")
def bad_files() -> dict[str, tuple[bytes, str, int, str]]:
    """name -> (content, filename, HTTP status, part of the message)."""
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
    xlsx = _xlsx_bytes()
    doctype = _zip({"xl/workbook.xml": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
                                       b"<workbook/>", "[Content_Types].xml": b"<Types/>"})
    return {
        "png renamed": (png, "items.xlsx", 400, "not an Excel (.xlsx) or CSV file"),
        "pdf renamed": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "items.xlsx",
                        400, "not an Excel (.xlsx) or CSV file"),
        "random bytes": (random.Random(3).randbytes(4096), "items.csv", 400,
                         "not an Excel (.xlsx) or CSV file"),
        "empty": (b"", "items.xlsx", 400, "The file is empty"),
        "truncated zip": (xlsx[: len(xlsx) // 2], "items.xlsx", 400, "damaged"),
        "corrupt member": (_corrupt_member(xlsx), "items.xlsx", 400, "damaged"),
        "zip bomb": (_zeros_zip(200), "items.xlsx", 400, "far more data"),
        "tightly packed": (_zeros_zip(10), "items.xlsx", 400, "far more data"),
        "zip, not xlsx": (_zip({"hello.txt": b"hello", "data/x.csv": b"id,version\n1,1\n"}),
                          "items.xlsx", 400, "not an Excel (.xlsx) or CSV file"),
        "xml with entities": (doctype, "items.xlsx", 400, "damaged"),
        "old xls": (spreadsheet.OLE2_MAGIC + bytes(1000), "items.xls", 400, "old Excel file"),
        "csv without id": ("状态 status,进度 progress\nplanned,0\n".encode("utf-8-sig"),
                           "items.csv", 400, "has no 编号 id / 版本 version column"),
        "header only": ("编号 id,版本 version\n".encode(), "items.csv", 400, "no item rows"),
        "over 5 MB": (b"id,version\r\n" + b"1,1\r\n" * (5 * 2**20 // 5), "items.csv", 413,
                      "too large"),
        "too many rows": (b"id,version\r\n" + b"1,1\r\n" * 20_001, "items.csv", 400,
                          "more than 20000 item rows"),
    }


def test_files_that_are_not_spreadsheets_are_refused(bad_files):
    for name, (data, filename, status, text) in bad_files.items():
        with pytest.raises(DomainError) as refused:
            spreadsheet.read_upload(data, filename)
        assert refused.value.status == status, name
        assert text in str(refused.value.message), (name, str(refused.value.message))


def test_the_zip_bomb_is_refused_without_unpacking_it(bad_files, monkeypatch):
    def no_unpacking(*args, **kwargs):
        raise AssertionError("the archive was opened for reading")

    monkeypatch.setattr(zipfile.ZipFile, "open", no_unpacking)
    with pytest.raises(DomainError, match="far more data"):
        spreadsheet.read_upload(bad_files["zip bomb"][0], "items.xlsx")


def test_bad_files_uploaded_get_a_clear_4xx_and_change_nothing(client, app_session, bad_files):
    sign_in(client, OFFICIAL)
    before = snapshot(app_session)
    for name, (data, filename, status, text) in bad_files.items():
        response = post_file(client, data, filename)
        assert response.status_code == status, name
        page = response.get_data(as_text=True)
        assert 'id="upload-error"' in page and text.split("(")[0].strip() in page, name
    assert post_file(client, b"", "").status_code == 400  # no file chosen
    assert snapshot(app_session) == before


# --- Who may ---------------------------------------------------------------------------------

#: username -> (download, upload page, upload post): the expected status codes.
PERMISSIONS = {
    None: (302, 302, 302),
    "resident": (403, 403, 403),
    "moderator": (403, 403, 403),
    "planner": (200, 403, 403),
    "official-babaoshan": (403, 403, 403),
    OFFICIAL: (200, 200, 200),
    "admin": (200, 200, 200),
}


def test_who_may_download_and_upload(app, app_session):
    for username, (want_download, want_page, want_post) in PERMISSIONS.items():
        client = app.test_client()
        sign_in(client, username)
        before = snapshot(app_session)
        for fmt in ("xlsx", "csv"):
            response = client.get(f"/streets/{LAOSHAN}/items.{fmt}")
            assert response.status_code == want_download, (username, fmt)
            if want_download == 302:
                assert "/login" in response.headers["Location"]
        page = client.get(f"/streets/{LAOSHAN}/items/upload")
        assert page.status_code == want_page, username
        if want_page == 200:
            assert 'accept=".xlsx,.csv"' in page.get_data(as_text=True)
        rows = _rows(app_session)
        rows[_first(rows, "planned")].update(status="consulting", note=f"{username} 改的")
        response = post_file(client, spreadsheet.write_csv(rows), "items.csv")
        assert response.status_code == want_post, username
        after = snapshot(app_session)
        if want_post == 200:
            assert after[1] == before[1] + 1, username
        else:
            assert after == before, username
        if want_post == 403:
            assert "upload" in response.get_data(as_text=True), username


def test_unknown_streets_and_formats_are_404(client):
    sign_in(client, "admin")
    assert client.get("/streets/999999999999/items.xlsx").status_code == 404
    assert client.get(f"/streets/{LAOSHAN}/items.pdf").status_code == 404
    assert client.get("/streets/999999999999/items/upload").status_code == 404
    assert post_file(client, b"id,version\n1,1\n", "x.csv", "999999999999").status_code == 404


def test_an_upload_without_the_csrf_token_is_refused(client, app_session):
    sign_in(client, OFFICIAL)
    rows = _rows(app_session)
    rows[_first(rows, "planned")].update(status="consulting")
    before = snapshot(app_session)
    response = post_file(client, spreadsheet.write_csv(rows), "items.csv", token=False)
    assert response.status_code == 400
    assert snapshot(app_session) == before


# --- Concurrent edits ------------------------------------------------------------------------

def test_a_change_made_after_the_download_is_not_overwritten(client, app_session):
    sign_in(client, OFFICIAL)
    table = Table.from_xlsx(client.get(f"/streets/{LAOSHAN}/items.xlsx").data)
    first, second = [i for i, row in enumerate(table.rows) if row["status"] == "planned"][:2]
    changed_id = table.rows[first]["id"]
    workflow.change_item(app_session, user_of(app_session, "admin"), changed_id,
                         workflow.ChangeRequest(version=table.rows[first]["version"],
                                                status=Status.SUSPENDED, note="区里暂缓"))
    app_session.commit()
    before = snapshot(app_session)
    table.rows[first].update(status="consulting", progress=10)
    table.rows[second].update(status="consulting", progress=10)

    response = post_file(client, table.to_xlsx())

    assert response.status_code == 409
    assert list(problems_of(response)) == [table.row_number(first)]
    assert "Someone changed this item" in problems_of(response)[table.row_number(first)]
    assert snapshot(app_session) == before
    assert before[0][changed_id][0] is Status.SUSPENDED


def test_a_failure_while_applying_rolls_everything_back(client, app_session, monkeypatch):
    sign_in(client, OFFICIAL)
    table = Table.from_xlsx(client.get(f"/streets/{LAOSHAN}/items.xlsx").data)
    plan_edits(table, 10)
    before = snapshot(app_session)
    real, calls = workflow.change_item, []

    def fails_on_the_fifth(session, user, item_id, request, **kwargs):
        calls.append(item_id)
        if len(calls) == 5:
            if failure == "crash":
                raise RuntimeError("the database went away")
            raise workflow.Conflict("Someone changed this item at the same moment.",
                                    session.get(RenovationItem, item_id))
        return real(session, user, item_id, request, **kwargs)

    monkeypatch.setattr(workflow, "change_item", fails_on_the_fifth)
    for failure, status in (("conflict", 409), ("crash", 500)):
        calls.clear()
        response = post_file(client, table.to_xlsx())
        assert response.status_code == status, failure
        assert len(calls) == 5
        assert snapshot(app_session) == before, failure
