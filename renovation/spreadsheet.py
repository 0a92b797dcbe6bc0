"""A street's items as a spreadsheet: export to XLSX or CSV, read an edited file back, apply it.

An official downloads the street's items, changes statuses, progress and notes in Excel
(or WPS), and uploads the file. The upload is all-or-nothing: :func:`apply_upload` first
checks every row and reports each bad one; only when every row is good does it apply the
changed rows, each through :func:`renovation.workflow.change_item` with its history row,
in the caller's one transaction.

Uploads come from anywhere, so :func:`read_upload` trusts nothing: it recognises the file
by its content (not its name), refuses zip bombs before openpyxl opens the archive, and
caps the file size and the number of rows. Exports guard against formula injection: a
text cell that a spreadsheet would run as a formula is written with a leading quote.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import logging
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, contains_eager, joinedload

from geo.files import UnsafeFile, ZipLimits, check_zip, decode_text, member_has_doctype
from renovation import workflow
from renovation.catalogue import BY_CODE
from renovation.errors import DomainError
from renovation.models import Community, RenovationItem, Street, User
from renovation.status import PROGRESS_RANGE, Status

LOGGER = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
#: Zip-bomb limits, checked on the archive's directory before anything is unpacked: a
#: street's items need far less than 50 MB of XML.
ZIP_LIMITS = ZipLimits(max_unzipped_bytes=50 * 1024 * 1024)
#: Rows searched for the header row, for files with a title line above it.
HEADER_SEARCH_ROWS = 10

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = "text/csv"
ITEMS_SHEET = "项目 items"
HELP_SHEET = "说明 help"

#: Text a spreadsheet would run as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Beginnings of files that are certainly not a spreadsheet we read.
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and password-protected .xlsx


@dataclass(frozen=True)
class Column:
    """A column of the items sheet; the header shows both names, e.g. "状态 status"."""

    code: str
    name_zh: str
    name_en: str
    editable: bool
    width: float

    @property
    def header(self) -> str:
        return f"{self.name_zh} {self.code}"


COLUMNS: tuple[Column, ...] = (
    Column("id", "编号", "Item ID", False, 9),
    Column("version", "版本", "Version", False, 8),
    Column("street", "街道代码", "Street code", False, 15),
    Column("community_code", "社区代码", "Community code", False, 17),
    Column("community", "社区", "Community", False, 20),
    Column("kind", "类别代码", "Kind code", False, 16),
    Column("kind_name", "类别", "Kind", False, 16),
    Column("title", "名称", "Title", False, 30),
    Column("status", "状态", "Status", True, 15),
    Column("status_label", "状态名称", "Status label", False, 13),
    Column("progress", "进度", "Progress", True, 10),
    Column("planned_end", "计划完成", "Planned end", False, 13),
    Column("note", "备注", "Note", True, 40),
    Column("date", "日期", "Date", True, 13),
)
BY_COLUMN = {column.code: column for column in COLUMNS}
REQUIRED = ("id", "version")
#: What the reader takes from an uploaded row; the other columns are there to read.
READ = ("id", "version", "status", "progress", "note", "date")


# --- Export ---------------------------------------------------------------------------------

def export_rows(session: Session, street: Street, *, locale: str = "zh") -> list[dict]:
    """The street's items as rows keyed by column code, by community code then item id.

    Parameters
    ----------
    locale : str
        The language of the kind and status names ('zh' or 'en').
    """
    items = session.scalars(
        sa.select(RenovationItem).join(Community, RenovationItem.community)
        .options(contains_eager(RenovationItem.community))
        .where(Community.street_id == street.id)
        .order_by(Community.code, RenovationItem.id)).all()
    rows = []
    for item in items:
        kind = BY_CODE.get(item.kind)
        rows.append({
            "id": item.id, "version": item.version, "street": street.code,
            "community_code": item.community.code, "community": item.community.name,
            "kind": item.kind, "kind_name": kind.name(locale) if kind else item.kind,
            "title": item.title, "status": item.status.value,
            "status_label": item.status.label(locale), "progress": item.progress_pct,
            "planned_end": item.planned_end, "note": "", "date": None,
        })
    return rows


def safe_text(value):
    """`value`, with a leading quote if it is text a spreadsheet would run as a formula.

    >>> safe_text('=HYPERLINK("http://x")'), safe_text("-1"), safe_text(-1), safe_text("1号楼")
    ('\\'=HYPERLINK("http://x")', "'-1", -1, '1号楼')
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(rows: list[dict]) -> bytes:
    """The rows as CSV in UTF-8 with a byte-order mark, so that Excel reads the Chinese."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([column.header for column in COLUMNS])
    for row in rows:
        writer.writerow([_csv_value(row.get(column.code)) for column in COLUMNS])
    return out.getvalue().encode("utf-8-sig")


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return safe_text(value)


def write_xlsx(rows: list[dict], locale: str = "zh") -> bytes:
    """The rows as an Excel workbook: the items sheet and a help sheet.

    The items sheet has a bilingual header (frozen), the columns one may edit in white
    and the others greyed, a dropdown of status codes and checks on progress and date.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    sheet = book.active
    sheet.title = ITEMS_SHEET
    grey_fill, header_grey = PatternFill("solid", fgColor="EDEDED"), PatternFill("solid",
                                                                                 fgColor="D0D0D0")
    edit_header = PatternFill("solid", fgColor="C6E0B4")
    grey_font, bold = Font(color="595959"), Font(bold=True)
    sheet.append([column.header for column in COLUMNS])
    for index, column in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font, cell.fill = bold, edit_header if column.editable else header_grey
        cell.alignment = Alignment(vertical="center")
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    for row in rows:
        sheet.append([safe_text(row.get(column.code)) for column in COLUMNS])
    last = len(rows) + 1
    for index, column in enumerate(COLUMNS, start=1):
        cells = sheet.iter_rows(min_row=2, max_row=last, min_col=index, max_col=index)
        for (cell,) in cells:
            if not column.editable:
                cell.fill, cell.font = grey_fill, grey_font
            if column.code in ("planned_end", "date"):
                cell.number_format = "yyyy-mm-dd"
            elif column.code in ("street", "community_code"):
                cell.number_format = "@"
    letter = {column.code: get_column_letter(i) for i, column in enumerate(COLUMNS, start=1)}

    def cells_of(code: str) -> str:
        return f"{letter[code]}2:{letter[code]}{max(last, 2)}"

    status_list = DataValidation(
        type="list", formula1='"' + ",".join(s.value for s in Status) + '"', allow_blank=True,
        showErrorMessage=True, errorTitle="状态 status",
        error="请从列表中选择状态代码。Choose a status code from the list.",
        showInputMessage=True, promptTitle="状态 status",
        prompt="可改为哪些状态见“说明 help”表。See the help sheet for allowed moves.")
    status_list.add(cells_of("status"))
    progress_check = DataValidation(
        type="whole", operator="between", formula1="0", formula2="100", allow_blank=True,
        showErrorMessage=True, errorTitle="进度 progress",
        error="进度是 0 到 100 的整数。Progress is a whole number from 0 to 100.")
    progress_check.add(cells_of("progress"))
    date_check = DataValidation(
        type="date", operator="greaterThan", formula1="32874", allow_blank=True,  # 1990-01-01
        showErrorMessage=True, errorTitle="日期 date",
        error="请填写日期，如 2026-05-31。Enter a date such as 2026-05-31.")
    date_check.add(cells_of("date"))
    for validation in (status_list, progress_check, date_check):
        sheet.add_data_validation(validation)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{max(last, 2)}"
    _write_help(book.create_sheet(HELP_SHEET), locale)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


#: The help sheet's text, in both languages; the user's language comes first.
HELP_LINES = (
    ("填写说明", "How to fill in this file"),
    ("只改白色的列：状态 status、进度 progress、备注 note、日期 date。"
     "灰色的列只供查看，改了也不会生效。",
     "Edit only the white columns: status, progress, note and date. The grey columns are "
     "there to read; changes to them are ignored."),
    ("不要改动 编号 id 和 版本 version；上传时用它们确认您改的是下载时的那个版本。",
     "Do not change id and version: the upload uses them to check that you edited the "
     "state you downloaded."),
    ("状态填写下表中的代码（也可填中文或英文名称）；只能改为表中“可改为”的状态。",
     "Fill in a status code from the table below (the Chinese or English name also works); "
     "an item may move only to the statuses listed under 'may move to'."),
    ("进度为 0–100 的整数，须在新状态的范围内；状态改了而进度没改时，进度自动调整到范围内。",
     "Progress is a whole number from 0 to 100 within the range of the new status; if you "
     "change the status and leave the progress, it is moved into the range."),
    ("日期是现场发生变化的日期，空着表示上传当天。没有任何改动的行会被跳过。",
     "Date is the day of the change on site; empty means the day of the upload. Rows with "
     "nothing changed are skipped."),
    ("只要有一行有问题，整个文件都不会生效；系统会列出每一个有问题的行。",
     "If any row is wrong, nothing in the file is applied, and every wrong row is listed."),
)


def _write_help(sheet, locale: str) -> None:
    from openpyxl.styles import Alignment, Font

    english_first = locale.startswith("en")
    sheet.column_dimensions["A"].width = 16
    for letter, width in zip("BCDE", (12, 22, 16, 48), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.append([HELP_SHEET])
    sheet["A1"].font = Font(bold=True, size=14)
    for zh, en in HELP_LINES:
        for text in ((en, zh) if english_first else (zh, en)):
            sheet.append([text])
            sheet.cell(row=sheet.max_row, column=1).alignment = Alignment(wrap_text=False)
    sheet.append([])
    sheet.append(["状态代码 code", "中文", "English", "进度 progress %", "可改为 may move to"])
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for status in Status:
        low, high = PROGRESS_RANGE[status]
        moves = ", ".join(s.value for s in workflow.next_statuses(status)) or "—"
        sheet.append([status.value, status.label("zh"), status.label("en"),
                      f"{low}–{high}" if low != high else str(low), moves])


# --- Reading an upload ----------------------------------------------------------------------

@dataclass
class UploadRow:
    """One item row of an uploaded file, parsed; `errors` says what could not be read."""

    row: int  # the row number the spreadsheet shows
    item_id: int | None = None
    version: int | None = None
    status: Status | None = None
    progress: int | None = None
    note: str = ""
    effective_date: dt.date | None = None
    errors: list[str] = field(default_factory=list)


def read_upload(data: bytes, filename: str = "") -> list[UploadRow]:
    """Parse an uploaded XLSX or CSV file, recognised by its content.

    Raises
    ------
    DomainError
        400 for a file that is empty, not a spreadsheet, damaged, a zip bomb, without an
        id or version column, with no item rows or too many; 413 for one over 5 MB.
    """
    if not data:
        raise DomainError(_l("The file is empty."))
    if len(data) > MAX_UPLOAD_BYTES:
        raise DomainError(_l("The file is too large (at most %(mb)d MB).",
                             mb=MAX_UPLOAD_BYTES // 2**20), status=413)
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        table = _xlsx_table(data, filename)
    elif data.startswith(OLE2_MAGIC):
        raise DomainError(_l("This is an old Excel file (.xls) or a password-protected one. "
                             "Save it as an Excel workbook (.xlsx) without a password, or "
                             "as CSV, and upload that."))
    else:
        table = _csv_table(data)
    return _rows_of(table)


def _not_a_spreadsheet() -> DomainError:
    return DomainError(_l("This is not an Excel (.xlsx) or CSV file. Download the items as "
                          "Excel or CSV, edit that file and upload it."))


def _damaged() -> DomainError:
    return DomainError(_l("The Excel file is damaged and cannot be read. Open it in Excel, "
                          "save it again as .xlsx and upload that."))


def check_archive(data: bytes) -> None:
    """Refuse a zip that is damaged, a bomb, or not an Excel workbook, before unpacking it.

    The sizes come from the archive's directory (:func:`geo.files.check_zip`); workbooks
    never declare a DTD, so one that does is refused, which rules out entity tricks.
    """
    try:
        members = check_zip(data, ZIP_LIMITS)
        if "xl/workbook.xml" not in {m.filename for m in members}:
            raise _not_a_spreadsheet()
        for member in members:
            if member.filename.endswith((".xml", ".rels")) and member_has_doctype(data, member):
                raise _damaged()
    except UnsafeFile as error:
        LOGGER.info("upload: refused zip: %s", error)
        if error.reason == "bomb":
            raise DomainError(_l("The Excel file unpacks to far more data than a street's "
                                 "items need, so it is refused.")) from None
        raise _damaged() from None


def _xlsx_table(data: bytes, filename: str) -> list[tuple[int, tuple]]:
    check_archive(data)
    from openpyxl import load_workbook

    try:
        # openpyxl warns about things like unknown extensions or missing default styles;
        # they do not matter for reading values.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                return _items_sheet(book)
            finally:
                book.close()
    except DomainError:
        raise
    except Exception as error:  # noqa: BLE001 - openpyxl raises many kinds on a bad file
        LOGGER.info("upload %r: openpyxl could not read it: %r", filename[:100], error)
        raise _damaged() from None


def _items_sheet(book) -> list[tuple[int, tuple]]:
    """The rows of the first sheet that has the id and version header, with row numbers."""
    for sheet in book.worksheets:
        if not hasattr(sheet, "iter_rows"):
            continue
        sheet.reset_dimensions()  # the stored dimension may be wrong; read every row
        rows = enumerate(sheet.iter_rows(values_only=True), start=1)
        head = []
        for number, values in rows:
            head.append((number, values))
            if number >= HEADER_SEARCH_ROWS:
                break
        if _find_header(head) is None:
            continue
        return _bounded(itertools.chain(head, rows))
    return []


def _bounded(rows: Iterable[tuple[int, tuple]]) -> list[tuple[int, tuple]]:
    """The non-empty rows, refusing a file with far more than MAX_ROWS of them early."""
    table = []
    for number, values in rows:
        if _is_empty(values):
            continue
        table.append((number, tuple(values)))
        if len(table) > MAX_ROWS + HEADER_SEARCH_ROWS:
            raise _too_many_rows()
    return table


def _too_many_rows() -> DomainError:
    return DomainError(_l("The file has more than %(n)d item rows.", n=MAX_ROWS))


def _csv_table(data: bytes) -> list[tuple[int, tuple]]:
    text = decode_text(data)
    if text is None:
        raise _not_a_spreadsheet()
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return _bounded((reader.line_num, row) for row in reader)
    except csv.Error as error:
        LOGGER.info("upload: bad CSV: %s", error)
        raise DomainError(_l("The CSV file cannot be read: %(reason)s.",
                             reason=str(error)[:100])) from None


def _is_empty(values) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def _header_names(column: Column) -> set[str]:
    return {column.code, column.name_zh, column.name_en.lower(), column.header.lower(),
            column.code.replace("_", " "), f"{column.name_zh} {column.name_en.lower()}"}


#: Header text -> column code; a column's own code wins over another's name ("kind").
_HEADER_NAMES = {name: column.code for column in COLUMNS for name in _header_names(column)}
_HEADER_NAMES.update({column.code: column.code for column in COLUMNS})


def _column_of(value) -> str | None:
    """The column code a header cell names: "状态 status", "status", "状态" or "Status"."""
    if not isinstance(value, str):
        return None
    text = " ".join(value.replace("\ufeff", "").split()).lower()
    if text in _HEADER_NAMES:
        return _HEADER_NAMES[text]
    parts = text.rsplit(" ", 1)
    if len(parts) == 2 and parts[1] in BY_COLUMN:  # a renamed Chinese part: "状态(新) status"
        return parts[1]
    return None


def _find_header(table: list[tuple[int, tuple]]) -> tuple[int, dict[str, int]] | None:
    """(row number, column code -> index) of the first row naming every required column."""
    for number, values in table:
        found: dict[str, int] = {}
        for index, value in enumerate(values):
            code = _column_of(value)
            if code is None:
                continue
            if code in found:
                if code in READ:
                    raise DomainError(_l("The column %(name)s appears more than once.",
                                         name=BY_COLUMN[code].header))
                continue
            found[code] = index
        if all(code in found for code in REQUIRED):
            return number, found
    return None


def _rows_of(table: list[tuple[int, tuple]]) -> list[UploadRow]:
    header = _find_header(table[:HEADER_SEARCH_ROWS])
    if header is None:
        raise DomainError(_l("The file has no %(columns)s column. Keep the header row of the "
                             "downloaded file.",
                             columns=" / ".join(BY_COLUMN[c].header for c in REQUIRED)))
    header_row, columns = header
    data = [(number, values) for number, values in table if number > header_row]
    if not data:
        raise DomainError(_l("The file has no item rows."))
    if len(data) > MAX_ROWS:
        raise _too_many_rows()
    return [_parse_row(number, {code: (values[index] if index < len(values) else None)
                                for code, index in columns.items() if code in READ})
            for number, values in data]


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _clean(value):
    """An integral float (Excel stores every number as one) as an int; text stripped."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return value.strip()
    return value


def _parse_row(number: int, cells: dict) -> UploadRow:
    row = UploadRow(row=number)
    item_id = _clean(cells.get("id"))
    if _blank(item_id):
        row.errors.append(str(_l("This row has no item number; new items cannot be added "
                                 "from a spreadsheet.")))
    elif isinstance(item_id, int) and not isinstance(item_id, bool):
        row.item_id = item_id
    elif isinstance(item_id, str) and item_id.isascii() and item_id.isdigit():
        row.item_id = int(item_id)
    else:
        row.errors.append(str(_l("The item number must be a whole number, not %(value)s.",
                                 value=str(item_id)[:40])))
    steps = (("version", _parse_version), ("status", _parse_status),
             ("progress", _parse_progress), ("date", _parse_date), ("note", _parse_note))
    for code, parse in steps:
        value = _clean(cells.get(code))
        if _blank(value) and code != "version":  # a missing version is an error
            continue
        try:
            parse(row, value)
        except DomainError as error:
            row.errors.append(str(error.message))
    return row


def _parse_version(row: UploadRow, value) -> None:
    row.version = workflow.parse_version(value)


_STATUS_NAMES = {name: status for status in Status
                 for name in (status.value, status.label("zh"), status.label("en").lower())}


def _parse_status(row: UploadRow, value) -> None:
    text = " ".join(str(value).split()).lower()
    row.status = _STATUS_NAMES.get(text) or workflow.parse_status(text)


def _parse_progress(row: UploadRow, value) -> None:
    if isinstance(value, str):
        value = value.removesuffix("%").removesuffix("％").strip()
    row.progress = workflow.parse_progress(_clean(value))


DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y-%m-%d %H:%M:%S",
                "%Y/%m/%d %H:%M")


def _parse_date(row: UploadRow, value) -> None:
    if isinstance(value, dt.datetime):
        row.effective_date = value.date()
        return
    if isinstance(value, dt.date):
        row.effective_date = value
        return
    if isinstance(value, int | float) and not isinstance(value, bool) and 1 <= value < 2958466:
        from openpyxl.utils.datetime import from_excel  # a date cell not formatted as one

        row.effective_date = from_excel(value).date()
        return
    for pattern in DATE_FORMATS:
        try:
            row.effective_date = dt.datetime.strptime(str(value), pattern).date()
            return
        except ValueError:
            continue
    raise DomainError(_l("The date must look like 2026-05-31."))


def _parse_note(row: UploadRow, value) -> None:
    row.note = str(value).replace("\x00", "").strip()


# --- Applying an upload ---------------------------------------------------------------------

@dataclass(frozen=True)
class RowProblem:
    """Why one row cannot be applied; `is_stale` when the item changed since the download."""

    row: int
    item_id: int | None
    message: str
    is_stale: bool = False


@dataclass
class UploadResult:
    changed: int = 0
    unchanged: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    changed_item_ids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def only_stale(self) -> bool:
        return bool(self.problems) and all(p.is_stale for p in self.problems)


def _load_items(session: Session, ids: set[int]) -> dict[int, RenovationItem]:
    wanted = sorted(i for i in ids if 0 < i < 2**31)
    found = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        for item in session.scalars(sa.select(RenovationItem)
                                    .where(RenovationItem.id.in_(chunk))
                                    .options(joinedload(RenovationItem.community))):
            found[item.id] = item
    return found


def _request_of(row: UploadRow, item: RenovationItem) -> workflow.ChangeRequest | None:
    """What the row asks of the item, or None if it leaves the item as it is.

    A progress equal to the item's own is the one downloaded and left alone: with a new
    status it is moved into that status's range, as on the item page.
    """
    status = row.status if row.status is not None and row.status != item.status else None
    progress = row.progress if row.progress is not None and row.progress != item.progress_pct \
        else None
    if status is None and progress is None and not row.note:
        return None
    return workflow.ChangeRequest(version=row.version, status=status, progress=progress,
                                  note=row.note, effective_date=row.effective_date)


def apply_upload(session: Session, user: User | None, rows: list[UploadRow], *,
                 today: dt.date, street: Street | None = None) -> UploadResult:
    """Check every row; if all are good, apply the changed ones. The caller commits.

    A row that changes nothing (same status and progress, no note) is counted as
    unchanged and skipped, even when its version is old: it would lose nothing. If any
    row is bad nothing is changed and the result lists every problem; if a change then
    fails while being applied (someone changed the item at that moment) the result
    reports it too, and the caller must roll back whatever was applied before it.

    Parameters
    ----------
    user : User
        Who uploads; each item must be theirs to change (:func:`workflow.require_edit`).
    street : Street, optional
        The street the file was uploaded for: items of other streets are refused even
        for an admin, who might otherwise change a street they did not mean to.
    """
    result = UploadResult()
    items = _load_items(session, {r.item_id for r in rows if r.item_id is not None})
    first_row: dict[int, int] = {}
    to_apply: list[tuple[UploadRow, workflow.ChangeRequest]] = []

    def problem(row: UploadRow, message, *, is_stale: bool = False) -> None:
        result.problems.append(RowProblem(row.row, row.item_id, str(message), is_stale))

    for row in rows:
        for message in row.errors:
            problem(row, message)
        if row.item_id is None:
            continue
        if row.item_id in first_row:
            problem(row, _l("Item %(id)s appears more than once in the file (first in row "
                            "%(row)d).", id=row.item_id, row=first_row[row.item_id]))
            continue
        first_row[row.item_id] = row.row
        item = items.get(row.item_id)
        if item is None:
            problem(row, _l("There is no item number %(id)s.", id=row.item_id))
            continue
        try:
            workflow.require_edit(user, item)
        except DomainError as error:
            problem(row, error.message)
            continue
        if street is not None and item.community.street_id != street.id:
            problem(row, _l("Item %(id)s is not in this street (%(code)s).", id=item.id,
                            code=street.code))
            continue
        if row.errors:
            continue
        change = _request_of(row, item)
        if change is None:
            result.unchanged += 1
            continue
        try:
            workflow.check_change(session, user, item, change, today=today)
        except workflow.Conflict as conflict:
            problem(row, conflict.message, is_stale=True)
            continue
        except DomainError as error:
            problem(row, error.message)
            continue
        to_apply.append((row, change))
    if result.problems:
        result.problems.sort(key=lambda p: p.row)
        return result
    for row, change in to_apply:
        try:
            workflow.change_item(session, user, row.item_id, change, source="spreadsheet",
                                 today=today)
        except DomainError as error:
            LOGGER.info("upload: row %s failed while applying: %s", row.row, error)
            result.problems = [RowProblem(row.row, row.item_id, str(error.message),
                                          isinstance(error, workflow.Conflict))]
            result.changed, result.changed_item_ids = 0, []
            return result
        result.changed += 1
        result.changed_item_ids.append(row.item_id)
    LOGGER.info("upload by %s: %d items changed, %d unchanged", user.username, result.changed,
                result.unchanged)
    return result
