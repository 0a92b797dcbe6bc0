"""Demo data for Shijingshan: real streets and community names, generated footprints and items.

What is real: the nine street boundaries and the 149 community names and codes
(``data/``, with their licences), the community centre points where the source
has them (GCJ-02, converted to WGS84 here), the district pilot 老山东里北社区 and
pilot names taken from news reports of the district's renovation batches.

What is generated, and marked so (``data_source = "generated"``): community
footprints, building figures and the renovation items. Footprints are drawn
inside the right street around the community's point, never overlapping; the
building areas are scaled so that they add up to the district's 6.97 million m²
of old residential building area. The same seed gives the same data, byte for byte.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from geoalchemy2.shape import from_shape
from pyproj import Geod
from shapely.geometry import LineString, MultiPolygon, Point, shape
from shapely.ops import polylabel
from sqlalchemy import select
from sqlalchemy.orm import Session

from geo import gcj02
from geo.footprints import area_m2, generate_footprint, random_point_within
from renovation.catalogue import BY_CODE, KINDS, PILOT_KINDS, ItemKind
from renovation.models import (
    Community,
    DataSource,
    RenovationItem,
    Street,
)
from renovation.status import PROGRESS_RANGE, Status

LOGGER = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DEMO_SEED = 20191
#: The dates of the demo are drawn relative to this day, so the data does not change
#: with the day it is loaded; "overdue" is always judged against the real today.
DEMO_REFERENCE_DAY = dt.date(2026, 11, 1)
DISTRICT_PILOT = "老山东里北社区"
DISTRICT_BUILDING_AREA_M2 = 6_970_000  # the district report's old residential building area
IN_PROGRAMME_SHARE = 0.7
GEOD = Geod(ellps="WGS84")


@dataclass
class DemoStreet:
    code: str
    name_zh: str
    name_en: str
    boundary: MultiPolygon
    label_point: Point


@dataclass
class DemoItem:
    kind: str
    title: str
    geometry: object
    status: Status
    progress_pct: int
    quantity: float
    unit: str
    planned_start: dt.date
    planned_end: dt.date
    actual_start: dt.date | None
    actual_end: dt.date | None


@dataclass
class DemoCommunity:
    code: str
    name: str
    street_code: str
    location: Point
    location_source: str  # "gcj02" (converted from the source) or "generated"
    footprint: MultiPolygon | None = None
    year_built: int = 0
    building_area_m2: float = 0.0
    households: int = 0
    building_count: int = 0
    is_pilot: bool = False
    is_district_pilot: bool = False
    items: list[DemoItem] = field(default_factory=list)


@dataclass
class DemoData:
    streets: list[DemoStreet]
    communities: list[DemoCommunity]


def read_streets(data_dir: Path = DATA_DIR) -> list[DemoStreet]:
    """The nine street boundaries (MIT, bj-subdistricts); codes are the 12-digit national ones."""
    collection = json.loads((data_dir / "shijingshan-streets.geojson").read_text("utf-8"))
    streets = []
    for feature in collection["features"]:
        props = feature["properties"]
        boundary = shape(feature["geometry"])
        if boundary.geom_type == "Polygon":
            boundary = MultiPolygon([boundary])
        lat, lon = props["labelPoint"]  # [lat, lon] in this file, not GeoJSON order
        label_point = Point(lon, lat)
        if not boundary.contains(label_point):
            # Two of the source's label points (古城, 鲁谷) lie outside their street.
            label_point = polylabel(max(boundary.geoms, key=lambda part: part.area), 1e-5)
            label_point = Point(round(label_point.x, 5), round(label_point.y, 5))
        pinyin = props["pinyin"].removesuffix("jiedao")
        streets.append(DemoStreet(str(props["code"]), props["Name"],
                                  f"{pinyin.capitalize()} Subdistrict", boundary, label_point))
    return sorted(streets, key=lambda s: s.code)


def community_name(committee: str) -> str:
    """'老山东里北社区居委会' -> '老山东里北社区'; '双锦园居委会' -> '双锦园社区'."""
    name = committee.removesuffix("居委会")
    return name if name.endswith("社区") else name + "社区"


def read_communities(data_dir: Path = DATA_DIR) -> list[dict]:
    """The 149 communities (CC BY 4.0, Vonng/adcode); 54 have a GCJ-02 point."""
    with open(data_dir / "shijingshan-communities.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def read_news_projects(data_dir: Path = DATA_DIR) -> list[dict]:
    with open(data_dir / "shijingshan-renovation-projects-news.csv", encoding="utf-8",
              newline="") as f:
        return list(csv.DictReader(f))


def _choose_pilots(rng, communities: list[DemoCommunity], streets: list[DemoStreet],
                   news: list[dict]) -> None:
    """One pilot per street: a community named in the renovation news where there is one."""
    for street in streets:
        candidates = [c for c in communities if c.street_code == street.code]
        chosen = next((c for c in candidates if c.name == DISTRICT_PILOT), None)
        if chosen is None:
            for project in news:
                stem = project["project_name"].removesuffix("小区")
                chosen = next((c for c in candidates
                               if stem and (stem in c.name or c.name.removesuffix("社区") in stem)),
                              None)
                if chosen:
                    break
        if chosen is None:
            chosen = candidates[int(rng.integers(len(candidates)))]
        chosen.is_pilot = True
        chosen.is_district_pilot = chosen.name == DISTRICT_PILOT


def _building_figures(rng, communities: list[DemoCommunity]) -> None:
    raw = rng.lognormal(mean=0.0, sigma=0.45, size=len(communities))
    scale = DISTRICT_BUILDING_AREA_M2 / raw.sum()
    for community, value in zip(communities, raw, strict=True):
        community.building_area_m2 = round(float(value * scale), -1)
        community.year_built = int(rng.choice(np.arange(1956, 2000),
                                              p=_year_weights()))
        community.building_count = max(2, round(community.building_area_m2
                                                / rng.uniform(3000, 6500)))
        community.households = round(community.building_area_m2 / rng.uniform(55, 75))


def _year_weights() -> np.ndarray:
    years = np.arange(1956, 2000)
    # Most of Shijingshan's old housing went up with the steelworks' growth in the 1980s and 90s.
    weights = np.exp(-((years - 1988) / 9.0) ** 2) + 0.08
    return weights / weights.sum()


def _place(rng, communities: list[DemoCommunity], streets: list[DemoStreet]) -> None:
    """Footprints inside the right street, around the community's point, not overlapping."""
    by_code = {s.code: s for s in streets}
    taken = None
    for community in communities:
        street = by_code[community.street_code]
        if community.location is None or not street.boundary.contains(community.location):
            if community.location is not None:
                LOGGER.info("%s: source point lies outside %s; placing it inside",
                            community.name, street.name_zh)
            community.location = random_point_within(rng, street.boundary, avoid=taken,
                                                     min_distance_m=150)
            community.location_source = "generated"
        land_m2 = community.building_area_m2 / rng.uniform(1.4, 2.4)  # plot ratio of walk-ups
        community.footprint = generate_footprint(rng, (community.location.x, community.location.y),
                                                 land_m2, within=street.boundary, avoid=taken)
        if not community.footprint.contains(community.location):
            community.location = community.footprint.representative_point()
        taken = community.footprint if taken is None else taken.union(community.footprint)


def _status_for(rng, years_running: float, is_pilot: bool) -> Status:
    """A status that fits how long the community's renovation has been going."""
    order = [Status.PLANNED, Status.CONSULTING, Status.DESIGN, Status.CONSTRUCTION,
             Status.COMPLETED, Status.ACCEPTED]
    if rng.random() < 0.05:
        return Status.SUSPENDED
    expected = min(5.0, max(0.0, years_running * 1.1 + (1.5 if is_pilot else 0.0)))
    index = int(np.clip(round(rng.normal(expected, 1.2)), 0, len(order) - 1))
    return order[index]


def _item_geometry(rng, kind: ItemKind, footprint: MultiPolygon, taken=None):
    """Where the item lies: a point, an L-shaped run, or an area clear of `taken` areas."""
    if kind.geometry == "point":
        return random_point_within(rng, footprint, min_distance_m=0)
    if kind.geometry == "line":
        return _service_run(rng, footprint)
    site = random_point_within(rng, footprint, min_distance_m=0)
    target = min(area_m2(footprint) * rng.uniform(0.04, 0.15), 4000)
    try:
        return generate_footprint(rng, (site.x, site.y), target, within=footprint, avoid=taken)
    except ValueError:
        return site.buffer(0.0002)


def _service_run(rng, footprint: MultiPolygon):
    """An L-shaped pipe or cable run along the compound's grid, as services are laid."""
    rect = footprint.minimum_rotated_rectangle
    (x0, y0), (x1, y1), (x2, y2) = list(rect.exterior.coords)[:3]
    along, across, turn = rng.uniform(0.15, 0.85), rng.uniform(0.35, 0.9), rng.uniform(0.1, 0.9)
    start = (x0 + along * (x1 - x0), y0 + along * (y1 - y0))
    corner = (start[0] + across * (x2 - x1), start[1] + across * (y2 - y1))
    end = (corner[0] + (turn - along) * (x1 - x0), corner[1] + (turn - along) * (y1 - y0))
    run = LineString([start, corner, end]).intersection(footprint)
    if run.is_empty or run.length == 0:
        centre = footprint.representative_point()
        return LineString([(centre.x - 0.0003, centre.y), (centre.x + 0.0003, centre.y)])
    if run.geom_type == "GeometryCollection":
        run = max((g for g in run.geoms if g.length > 0), key=lambda g: g.length)
    return run


def _quantity(rng, kind: ItemKind, geometry) -> float:
    if kind.geometry == "line":
        return round(GEOD.geometry_length(geometry))
    if kind.geometry == "polygon":
        area = abs(GEOD.geometry_area_perimeter(geometry)[0])
        return round(area / 25) if kind.code == "parking" else round(area)
    if kind.code == "lift_retrofit":
        return int(rng.integers(2, 9))
    if kind.code == "stairwell":
        return int(rng.integers(6, 40))
    return int(rng.integers(1, 6))


_TITLE_DETAIL = {
    "lift_retrofit": lambda rng: f"{rng.integers(1, 12)}号楼加装电梯",
    "drainage": lambda rng: "雨污水管线更换",
    "overhead_wires": lambda rng: "架空线规整入地",
    "stairwell": lambda rng: "楼道清理粉刷",
    "access_control": lambda rng: "单元门禁安装",
    "parking": lambda rng: "路侧停车位施划",
    "garbage_sorting": lambda rng: "垃圾分类驿站",
    "public_space": lambda rng: "公共空间美化",
}


def _items_for(rng, community: DemoCommunity) -> list[DemoItem]:
    kinds: list[str]
    if community.is_pilot:
        extra = rng.choice([k.code for k in KINDS if k.code not in PILOT_KINDS],
                           size=int(rng.integers(2, 5)), replace=False)
        kinds = [*PILOT_KINDS, *extra]
    else:
        weights = np.array([3.0 if k.code in PILOT_KINDS else 1.0 for k in KINDS])
        kinds = list(rng.choice([k.code for k in KINDS], size=int(rng.integers(3, 9)),
                                replace=False, p=weights / weights.sum()))
    start_year = 2019 if community.is_pilot else int(rng.integers(2020, 2027))
    start = dt.date(start_year, int(rng.integers(1, 13)), 1)
    years_running = (DEMO_REFERENCE_DAY - start).days / 365.25
    items = []
    taken = None  # areas of earlier items: a car park does not sit on the new square
    for code in kinds:
        kind = BY_CODE[str(code)]
        geometry = _item_geometry(rng, kind, community.footprint, taken)
        if kind.geometry == "polygon":
            taken = geometry if taken is None else taken.union(geometry)
        status = _status_for(rng, years_running, community.is_pilot)
        low, high = PROGRESS_RANGE[status]
        progress = int(rng.integers(low, high + 1))
        planned_start = start + dt.timedelta(days=int(rng.integers(0, 240)))
        planned_end = planned_start + dt.timedelta(days=int(rng.integers(120, 720)))
        actual_start = (planned_start + dt.timedelta(days=int(rng.integers(0, 90)))
                        if status in (Status.CONSTRUCTION, Status.COMPLETED, Status.ACCEPTED,
                                      Status.SUSPENDED) else None)
        actual_end = None
        if status.is_done:
            actual_end = min(planned_end + dt.timedelta(days=int(rng.integers(-60, 120))),
                             DEMO_REFERENCE_DAY)
            actual_end = max(actual_end, actual_start or planned_start)
        title = _TITLE_DETAIL.get(kind.code, lambda _rng, k=kind: k.name_zh)(rng)
        items.append(DemoItem(kind.code, title, geometry, status, progress,
                              float(_quantity(rng, kind, geometry)), kind.unit_zh,
                              planned_start, planned_end, actual_start, actual_end))
    return items


def _round(geometry, decimals: int = 6):
    return shapely.set_precision(geometry, 10 ** -decimals) if geometry is not None else None


def generate_demo(seed: int = DEMO_SEED, data_dir: Path = DATA_DIR) -> DemoData:
    """Build the demo data in memory, reproducibly from `seed`."""
    rng = np.random.default_rng(seed)
    streets = read_streets(data_dir)
    communities = []
    for row in read_communities(data_dir):
        location, source = None, "generated"
        if row["lon_gcj02"] and row["lat_gcj02"]:
            lon, lat = gcj02.gcj02_to_wgs84(float(row["lon_gcj02"]), float(row["lat_gcj02"]))
            location, source = Point(round(float(lon), 7), round(float(lat), 7)), "gcj02"
        communities.append(DemoCommunity(row["code"], community_name(row["name"]),
                                         row["street_code"], location, source))
    communities.sort(key=lambda c: c.code)
    _choose_pilots(rng, communities, streets, read_news_projects(data_dir))
    _building_figures(rng, communities)
    _place(rng, communities, streets)
    for community in communities:
        if community.is_pilot or rng.random() < IN_PROGRAMME_SHARE:
            community.items = _items_for(rng, community)
            for item in community.items:
                item.geometry = _round(item.geometry)
    return DemoData(streets, communities)


def is_empty(session: Session) -> bool:
    return session.scalar(select(Street.id).limit(1)) is None


def load_demo(session: Session, demo: DemoData) -> dict[str, int]:
    """Write `demo` into an empty database in one transaction; return what was written."""
    if not is_empty(session):
        raise ValueError("the database already holds data; the demo loads only into an empty one")
    street_ids = {}
    for s in demo.streets:
        street = Street(code=s.code, name_zh=s.name_zh, name_en=s.name_en,
                        boundary=from_shape(s.boundary, srid=4326),
                        label_point=from_shape(s.label_point, srid=4326),
                        data_source=DataSource.OFFICIAL)
        session.add(street)
        session.flush()
        street_ids[s.code] = street.id
    items = 0
    for c in demo.communities:
        note = ("Footprint and building figures generated for the demo (seed "
                f"{DEMO_SEED}); centre point "
                + ("converted from GCJ-02 (Vonng/adcode)" if c.location_source == "gcj02"
                   else "generated") + ".")
        community = Community(
            code=c.code, name=c.name, street_id=street_ids[c.street_code],
            footprint=from_shape(c.footprint, srid=4326),
            location=from_shape(c.location, srid=4326), year_built=c.year_built,
            building_area_m2=c.building_area_m2, households=c.households,
            building_count=c.building_count, is_pilot=c.is_pilot,
            is_district_pilot=c.is_district_pilot, data_source=DataSource.GENERATED,
            source_note=note)
        for i in c.items:
            community.items.append(RenovationItem(
                kind=i.kind, title=i.title, geometry=from_shape(i.geometry, srid=4326),
                status=i.status, progress_pct=i.progress_pct, quantity=i.quantity, unit=i.unit,
                planned_start=i.planned_start, planned_end=i.planned_end,
                actual_start=i.actual_start, actual_end=i.actual_end))
            items += 1
        session.add(community)
    session.flush()
    users = create_demo_accounts(session, demo)
    create_demo_sessions(session, demo)
    return {"streets": len(demo.streets), "communities": len(demo.communities), "items": items,
            "users": users}


#: The password of every demo account. The README says so; change it on a real server.
DEMO_PASSWORD = "gengxin-demo"


def demo_usernames(demo: DemoData) -> dict[str, tuple[str, str | None]]:
    """username -> (role, street code) of the demo accounts: a user per role, an official
    per street."""
    names = {"admin": ("admin", None), "planner": ("planner", None),
             "moderator": ("moderator", None), "resident": ("resident", None)}
    for street in demo.streets:
        pinyin = street.name_en.removesuffix(" Subdistrict").lower()
        names[f"official-{pinyin}"] = ("official", street.code)
    return names


def create_demo_accounts(session: Session, demo: DemoData) -> int:
    from renovation.accounts import create_user

    pilot = session.scalar(select(Community).where(Community.is_district_pilot))
    streets = {s.code: s.name_zh for s in demo.streets}
    for username, (role, street_code) in demo_usernames(demo).items():
        display = {"admin": "系统管理员", "planner": "区住建委规划员", "moderator": "讨论会主持人",
                   "resident": "老山东里北社区居民"}.get(username)
        if street_code:
            display = f"{streets[street_code]}工作人员"
        create_user(session, username, DEMO_PASSWORD, role, display_name=display,
                    street_code=street_code, community_id=pilot.id if role == "resident" else None)
    return len(demo_usernames(demo))


# --- Open-space sessions and residents' ratings ---------------------------------------------

#: The district pilot's session of 16 October 2019 (the district report), and two later ones.
DEMO_SESSION_TIMES = (dt.datetime(2019, 10, 16, 11, 0, tzinfo=dt.UTC),  # 19:00 in Beijing
                      dt.datetime(2026, 10, 24, 1, 30, tzinfo=dt.UTC),
                      dt.datetime(2026, 12, 12, 1, 30, tzinfo=dt.UTC))
#: More residents of the district pilot (the demo account "resident" is the first).
DEMO_PILOT_RESIDENTS = (("resident-2", "王阿姨"), ("resident-3", "李师傅"),
                        ("resident-4", "张大爷"), ("resident-5", "刘女士"))
_RATING_NOTES = ("电梯运行平稳，上下楼方便多了。", "施工期间噪音有点大，完工后效果不错。",
                 "希望后期维护能跟上。", "楼道干净了，住着舒心。", "")


def create_demo_sessions(session: Session, demo: DemoData) -> dict[str, int]:
    """Three sessions in the district pilot and residents' ratings of finished pilot items.

    One session is closed with its minutes and outcomes (the session of 16 October 2019
    the district report tells of), one is open with comments, pins, replies and supports,
    one is upcoming. Every pilot community gets two residents besides, who rate its
    finished items. All text is fixed and every number comes from its own seed, so the
    demo stays the same from load to load; it goes through the services, so it obeys
    their rules (pins on the footprint, one support each, ratings only of finished work).
    """
    from sqlalchemy import func
    from werkzeug.security import generate_password_hash

    from renovation import comments, ratings, sessions
    from renovation.models import Role, SessionComment, User

    rng = np.random.default_rng(DEMO_SEED + 4)
    users = {u.username: u for u in session.scalars(select(User))}
    pilot = session.scalar(select(Community).where(Community.is_district_pilot))
    pilot_shape = next(c.footprint for c in demo.communities if c.is_district_pilot)
    # One hash for every extra demo account: they share the demo password anyway, and
    # hashing is slow on purpose.
    hashed = generate_password_hash(DEMO_PASSWORD)

    def resident(username: str, name: str, community: Community) -> User:
        user = User(username=username, display_name=name, password_hash=hashed,
                    role=Role.RESIDENT, community=community)
        session.add(user)
        return user

    residents = [users["resident"]] + [resident(u, n, pilot) for u, n in DEMO_PILOT_RESIDENTS]
    pilots = session.scalars(select(Community).where(Community.is_pilot,
                                                     ~Community.is_district_pilot)
                             .order_by(Community.code)).all()
    pinyin = {s.code: s.name_en.removesuffix(" Subdistrict").lower() for s in demo.streets}
    street_codes = {street_id: code for code, street_id in session.execute(
        select(Street.code, Street.id))}
    others = {c.id: [resident(f"resident-{pinyin[street_codes[c.street_id]]}-{n}",
                              f"{c.name}居民{n}", c) for n in (1, 2)] for c in pilots}
    session.flush()

    items = {}
    for item in pilot.items:
        items.setdefault(item.kind, []).append(item.id)
    planner, host, official = users["planner"], users["moderator"], users["official-laoshan"]

    def topic(title, kind):
        return sessions.TopicInput(title, kind, tuple(items.get(kind, ())[:2]))

    def pin():
        point = random_point_within(rng, pilot_shape, min_distance_m=0)
        return round(point.x, 6), round(point.y, 6)

    def post(s, topic_index, user, text, *, parent=None, pinned=False, speaker=None,
             minutes=0):
        lon, lat = pin() if pinned else (None, None)
        posted = comments.post_comment(session, user, s.id, comments.CommentInput(
            s.topics[topic_index].id, text, parent.id if parent else None, lon, lat, speaker))
        posted.created_at = aware_start(s) + dt.timedelta(minutes=minutes)
        return posted

    def aware_start(s):
        return s.starts_at if s.starts_at.tzinfo else s.starts_at.replace(tzinfo=dt.UTC)

    # 1. The session of 16 October 2019: lifts, sewers, overhead wires. Closed.
    first = sessions.create_session(
        session, planner, pilot.id, title="加装电梯、更换下水管线、治理散乱飞线开放空间讨论会",
        starts_at=DEMO_SESSION_TIMES[0], place="老山东里北社区休闲广场", facilitator_id=host.id,
        topics=[topic("加装楼体电梯", "lift_retrofit"), topic("更换下水管线", "drainage"),
                topic("治理散乱飞线", "overhead_wires")])
    sessions.open_session(session, host, first.id)
    lift = post(first, 0, residents[0], "我家住5楼，腿脚不好，盼着早点装上电梯。", pinned=True,
                minutes=10)
    post(first, 0, official, "加装电梯按单元征询业主意见，同意的单元先行实施，费用由政府补贴和业主"
         "分摊。", parent=lift, minutes=25)
    post(first, 1, host, "下雨天3号楼后面的下水道经常返水，希望尽快更换管线。", pinned=True,
         speaker="赵奶奶", minutes=40)
    post(first, 2, residents[1], "楼道外面的飞线太乱了，存在安全隐患。", pinned=True, minutes=55)
    sessions.close_session(
        session, host, first.id,
        summary="社区居民围绕加装楼体电梯、更换下水管线、治理散乱飞线等问题，与区住建委、规划委、"
                "城管委、经信局等部门负责人面对面交流。会上形成三项共识，纳入小区有机更新方案。",
        attendees=86,
        outcomes=[sessions.OutcomeInput("按单元征询业主意见，同意的单元先行加装电梯。",
                                        changed_item_ids=tuple(items.get("lift_retrofit", ()))),
                  sessions.OutcomeInput("雨污水管线整体更换，施工期间分段停水并提前公告。",
                                        changed_item_ids=tuple(items.get("drainage", ()))),
                  sessions.OutcomeInput("架空线规整入地，由经信局协调通信运营商。",
                                        changed_item_ids=tuple(items.get("overhead_wires", ())))])
    first.created_at = DEMO_SESSION_TIMES[0] - dt.timedelta(days=14)
    first.opened_at = DEMO_SESSION_TIMES[0]
    first.closed_at = DEMO_SESSION_TIMES[0] + dt.timedelta(hours=2, minutes=30)

    # 2. Open now: stairwells, access control, roadside parking.
    second = sessions.create_session(
        session, official, pilot.id, title="楼道清理、门禁安装与路侧停车意见征集",
        starts_at=DEMO_SESSION_TIMES[1], place="社区居委会二楼会议室", facilitator_id=host.id,
        topics=[topic("楼道清理", "stairwell"), topic("门禁安装", "access_control"),
                topic("路侧停车", "parking")])
    sessions.open_session(session, host, second.id)
    second.created_at = DEMO_SESSION_TIMES[1] - dt.timedelta(days=10)
    second.opened_at = DEMO_SESSION_TIMES[1]
    said = [
        post(second, 0, residents[2], "2单元楼道堆满了杂物，消防通道被堵。", pinned=True,
             minutes=5),
        post(second, 1, residents[3], "门禁卡希望能给老人多配一张。", pinned=True, minutes=12),
        post(second, 2, residents[4], "晚上停车太难，能不能在东侧路边施划车位？", pinned=True,
             minutes=20),
        post(second, 2, host, "路边停车要留出消防车通道。", speaker="孙大爷", pinned=True,
             minutes=31),
    ]
    answer = post(second, 2, official, "街道将会同交通部门勘查东侧道路，研究施划路侧停车位。",
                  parent=said[2], minutes=45)
    post(second, 2, residents[4], "谢谢，盼望早日落实。", parent=answer, minutes=50)
    for comment, supporters in zip(said, ([0, 1, 3], [0], [0, 1, 2, 3], [1]), strict=True):
        for index in supporters:
            if residents[index].id != comment.author_id:
                comments.support_comment(session, residents[index], comment.id)

    # 3. Upcoming: garbage sorting and public space.
    third = sessions.create_session(
        session, official, pilot.id, title="垃圾分类驿站与公共空间美化讨论会",
        starts_at=DEMO_SESSION_TIMES[2], place="老山东里北社区休闲广场", facilitator_id=host.id,
        topics=[topic("垃圾分类驿站选址", "garbage_sorting"),
                topic("公共空间美化", "public_space")])
    third.created_at = DEMO_SESSION_TIMES[1]

    # 效果共评: residents rate the finished items of their pilot community.
    raters = {pilot.id: residents, **others}
    rated = 0
    for community_id, people in sorted(raters.items()):
        for item in ratings.finished_items(session, community_id):
            for user in people:
                if rng.random() < 0.25:
                    continue
                score = int(rng.choice([2, 3, 4, 5], p=[0.05, 0.15, 0.4, 0.4]))
                note = _RATING_NOTES[int(rng.integers(len(_RATING_NOTES)))]
                rating = ratings.rate_item(session, user, item.id, score, note or None)
                rating.created_at = dt.datetime.combine(
                    item.actual_end or DEMO_REFERENCE_DAY, dt.time(12), dt.UTC)
                rated += 1
    session.flush()
    return {"sessions": 3, "comments": session.scalar(
        select(func.count()).select_from(SessionComment)), "ratings": rated}
