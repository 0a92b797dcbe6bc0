"""The planners' dashboard, the street comparison and the printable street report.

All of it is public, like the maps: the figures are those the maps show.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from numbers import Number

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup, escape

from renovation import charts, ratings
from renovation import dashboard as service
from renovation.catalogue import KINDS
from renovation.errors import DomainError, NotFound
from renovation.filters import Filters
from renovation.i18n import locale_code
from renovation.models import Street
from renovation.progress import colour_for, legend_rows
from renovation.spreadsheet import safe_text
from renovation.status import STATUS_COLOURS, Status
from renovation.web import db_session

bp = Blueprint("dashboard", __name__)


def _cell_text(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}" if value >= 10000 else str(value)
    return str(value)


@bp.app_template_filter("gx_cells")
def table_cells(row) -> Markup:
    """One row of a chart's numbers as ``<td>`` cells, numbers right-aligned: a filter
    rather than a macro per cell, as a district's tables hold hundreds of cells."""
    # A number's text is digits, separators and signs: only other values need escaping.
    return Markup("".join(
        f'<td class="text-end">{_cell_text(v)}</td>'
        if isinstance(v, Number) else f"<td>{escape(_cell_text(v))}</td>" for v in row))

#: The satisfaction source is looked up here, so that the ratings (效果共评) can plug
#: in with ``app.extensions["gengxin.satisfaction"] = their_source``.
SATISFACTION = "gengxin.satisfaction"


def _satisfaction() -> service.SatisfactionSource:
    return current_app.extensions.get(SATISFACTION, ratings.satisfaction_rates)


#: Above this many streets the filter form asks for a street code instead of listing them all
#: (a list of 10,000 streets would be a megabyte of page nobody can scroll).
MAX_STREET_CHOICES = 300


def _street_choices() -> list[dict] | str:
    rows = db_session().execute(
        sa.select(Street.code, Street.name_zh, Street.name_en).order_by(Street.code)
        .limit(MAX_STREET_CHOICES + 1)).all()
    if len(rows) > MAX_STREET_CHOICES:
        return "code"
    return [{"code": code, "name_zh": zh, "name_en": en} for code, zh, en in rows]


def _page(filters: Filters, *, street_page: bool):
    session = db_session()
    board = service.build_dashboard(session, filters, satisfaction=_satisfaction())
    lang = locale_code()
    tables = {name: service.table(board, name, lang) for name in service.TABLES}
    action = (url_for("dashboard.street", code=filters.street) if street_page
              else url_for("dashboard.index"))
    return render_template(
        "dashboard/index.html", board=board, tables=tables, charts=_charts(board, lang),
        filters=filters, form_filters=filters.but(street=None) if street_page else filters,
        action=action, street_page=street_page, kinds=KINDS, statuses=list(Status),
        street_choices=None if street_page else _street_choices())


@bp.get("/dashboard")
def index():
    return _page(Filters.from_args(request.args), street_page=False)


@bp.get("/dashboard/streets/<code>")
def street(code: str):
    return _page(Filters.from_args(request.args).but(street=code), street_page=True)


@bp.get("/dashboard/<name>.csv")
def table_csv(name: str):
    """The numbers of one chart as CSV (UTF-8 with BOM, for Excel), for the same filters."""
    if name not in service.TABLES:
        raise NotFound(_("There is no table called %(name)s.", name=name[:40]))
    board = service.build_dashboard(db_session(), Filters.from_args(request.args),
                                    satisfaction=_satisfaction(),
                                    full_comparison=name == "comparison")
    table = service.table(board, name, locale_code())
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.headers)
    # Only text can be read as a formula; numbers go as they are.
    writer.writerows(["" if v is None else safe_text(v) if isinstance(v, str) else v
                      for v in row] for row in table.rows)
    response = Response(out.getvalue().encode("utf-8-sig"), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    filename = f"gengxin-{name}-{dt.date.today().strftime('%Y%m%d')}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _percent(value: float) -> str:
    return f"{value:.1f}%"


def _area_text(m2: float, lang: str) -> str:
    """A building area the way each language counts it: 452.9万m², 4.53 million m²."""
    if lang == "en":
        millions = f"{m2 / 1e6:,.2f}"
        return _("%(n)s million m²", n=millions)
    tens_of_thousands = f"{m2 / 1e4:,.1f}"
    return _("%(n)s ten thousand m²", n=tens_of_thousands)


def _charts(board: service.Dashboard, lang: str) -> dict:
    """The dashboard's charts as inline SVG."""
    comparison = board.comparison
    places = [charts.Bar(r.name(lang), r.progress.percent, colour_for(r.progress.percent))
              for r in comparison.rows]
    per_place_title = (_("Progress by street") if comparison.level == service.STREET
                       else _("Progress by community"))
    found = {
        "places": charts.bar_chart(
            "chart-places", places, title=per_place_title, maximum=100, value_text=_percent,
            description=_("Weighted progress of the selected items, highest first.")),
        "kinds": charts.bar_chart(
            "chart-kinds", [charts.Bar(k.name(lang), k.progress.percent,
                                       k.kind.colour if k.kind else "#888888")
                            for k in board.kinds],
            title=_("Progress by item kind"), maximum=100, value_text=_percent,
            description=_("Weighted progress of the selected items of each kind.")),
        "statuses": charts.bar_chart(
            "chart-statuses",
            [charts.Bar(s.status.label(lang), s.items, STATUS_COLOURS[s.status])
             for s in board.statuses],
            title=_("Items by status"),
            description=_("How many selected items are in each status.")),
        "pilots": charts.bar_chart(
            "chart-pilots", [charts.Bar(_("Pilot communities") if p.is_pilot
                                        else _("Other communities"), p.progress.percent,
                                        "#b8860b" if p.is_pilot else "#31a354")
                             for p in board.pilots],
            title=_("Pilot communities and the rest"), maximum=100, value_text=_percent,
            description=_("Weighted progress of the pilot communities' items and of the others'.")),
    }
    area = board.area
    found["area"] = charts.bar_chart(
        "chart-area",
        [charts.Bar(_("In the renovation programme"), area.programme_m2, "#9e9e9e",
                    _area_text(area.programme_m2, lang)),
         charts.Bar(_("Renovated (all items done)"), area.renovated_m2, "#31a354",
                    _area_text(area.renovated_m2, lang))],
        title=_("Building area renovated"),
        description=_("Building area of the communities in the programme, and of those "
                      "whose items are all done."))
    months = [m.month for m in board.months]
    found["months"] = charts.time_chart(
        "chart-months", months, [m.completed for m in board.months],
        title=_("Completions per month"),
        description=_("Selected items completed in each month."))
    found["cumulative"] = charts.time_chart(
        "chart-cumulative", months, [m.cumulative for m in board.months], as_line=True,
        title=_("Items completed to date"),
        description=_("Selected items completed up to the end of each month."), colour="#1a237e")
    return found


# --- The printable report ---------------------------------------------------------------------

def _report_map(report: service.StreetReport, lang: str):
    shapes = [charts.MapShape(c.footprint, c.location, colour_for(c.progress.percent),
                              f"{c.name} · " + ("—" if c.progress.percent is None
                                                else f"{c.progress.percent:.0f}%"),
                              c.is_pilot)
              for c in report.communities]
    return charts.street_map(
        f"map-{report.street.code}", report.boundary, shapes,
        title=_("Map of %(name)s", name=report.street.name(lang)),
        description=_("The street's outline and its communities coloured by progress."),
        legend=legend_rows(_("Not in the programme")))


def _render_reports(reports: list[service.StreetReport], *, all_streets: bool, **scope):
    lang = locale_code()
    return render_template("report/street.html", reports=reports,
                           maps={r.street.code: _report_map(r, lang) for r in reports},
                           all_streets=all_streets, kinds={k.code: k for k in KINDS}, **scope)


@bp.get("/streets/<code>/report")
def street_report(code: str):
    """One street on one A4 page: figures against the other streets, map, overdue items."""
    report = service.street_report(db_session(), code, Filters.from_args(request.args),
                                   satisfaction=_satisfaction())
    return _render_reports([report], all_streets=False)


#: A report of more pages than this is not printed but chosen: a district's streets, or a list.
MAX_REPORT_STREETS = 50
#: More codes than this in ``streets=`` is not a choice either.
MAX_REPORT_CODES = 1000


@bp.get("/report/streets")
def streets_report():
    """The streets of a district (``district=110107``), those listed (``streets=a,b``), or
    all of them, one page each, at most :data:`MAX_REPORT_STREETS` pages."""
    session = db_session()
    filters = Filters.from_args(request.args)
    within = request.args.get("district", "").strip() or None
    codes = [c for c in re.split(r"[\s,，、]+", request.args.get("streets", "")) if c]
    if len(codes) > MAX_REPORT_CODES:
        raise DomainError(_("streets may list at most %(n)d street codes.", n=MAX_REPORT_CODES))
    shown, total = service.streets_for_report(session, within=within, codes=codes,
                                              limit=MAX_REPORT_STREETS)
    reports = service.street_reports(session, shown, filters, satisfaction=_satisfaction())
    return _render_reports(reports, all_streets=True, filters=filters, within=within or "",
                           codes=",".join(codes), selected=total,
                           left_out=total - len(reports), max_pages=MAX_REPORT_STREETS)
