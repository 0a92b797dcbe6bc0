"""Photos on a change: checked, re-encoded without metadata, stored, shown in the history."""

import io
import re

import pytest
import sqlalchemy as sa
from PIL import Image

from renovation import photos
from renovation.demo import DEMO_PASSWORD
from renovation.errors import DomainError
from renovation.models import ChangePhoto, Community, ItemChange, RenovationItem, Street
from renovation.status import Status


def image_bytes(fmt="PNG", size=(40, 30), exif=None) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size, (200, 30, 30))
    if exif is not None:
        image.save(out, format=fmt, exif=exif)
    else:
        image.save(out, format=fmt)
    return out.getvalue()


def test_a_photo_is_re_encoded_as_jpeg_without_exif():
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"  # Make
    exif[0x8825] = {2: (39.0, 54.0, 0.0)}  # GPS latitude
    prepared = photos.prepare(image_bytes("JPEG", exif=exif), "site.jpg")
    with Image.open(io.BytesIO(prepared.data)) as stored:
        assert stored.format == "JPEG" and stored.size == (40, 30)
        assert not stored.getexif()


def test_large_photos_are_scaled_down():
    prepared = photos.prepare(image_bytes("PNG", size=(4000, 1000)))
    assert (prepared.width, prepared.height) == (photos.MAX_SIDE, photos.MAX_SIDE // 4)


@pytest.mark.parametrize("data, name", [
    (b"", "empty.jpg"), (b"<html><script>alert(1)</script></html>", "page.jpg"),
    (b"GIF89a" + b"\x00" * 100, "x.gif"), (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "cut.png")])
def test_files_that_are_not_usable_photos_are_refused(data, name):
    with pytest.raises(DomainError):
        photos.prepare(data, name)


def test_a_gif_is_not_accepted():
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, format="GIF")
    with pytest.raises(DomainError, match="JPEG, PNG or WebP"):
        photos.prepare(out.getvalue(), "a.gif")


def test_too_many_or_too_big_photos_are_refused():
    with pytest.raises(DomainError, match="At most"):
        photos.prepare_all([("a.png", image_bytes())] * (photos.MAX_PHOTOS_PER_CHANGE + 1))
    with pytest.raises(DomainError) as error:
        photos.prepare(b"\xff\xd8" + b"\x00" * photos.MAX_PHOTO_BYTES, "huge.jpg")
    assert error.value.status == 413


def test_stored_names_are_only_ours(tmp_path):
    for bad in ("../secret_key", "a" * 36, "0123456789abcdef0123456789abcdef.png"):
        with pytest.raises(ValueError):
            photos.path_of(tmp_path, bad)


def sign_in(client):
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    client.post("/login", data={"csrf_token": token, "username": "official-laoshan",
                                "password": DEMO_PASSWORD})
    return token


def test_photos_travel_with_the_change_and_show_in_the_history(client, app_session):
    item = app_session.scalar(
        sa.select(RenovationItem).join(Community).join(Street)
        .where(Street.code == "110107002000", RenovationItem.status == Status.CONSTRUCTION))
    sign_in(client)
    page = client.get(f"/items/{item.id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(f"/items/{item.id}/change", content_type="multipart/form-data", data={
        "csrf_token": token, "version": str(item.version), "progress": "70", "note": "外墙",
        "photos": [(io.BytesIO(image_bytes()), "a.png"),
                   (io.BytesIO(image_bytes("JPEG")), "b.jpg")]})
    assert response.status_code == 302
    stored = app_session.scalars(sa.select(ChangePhoto).join(ItemChange)
                                 .where(ItemChange.item_id == item.id)).all()
    assert len(stored) == 2
    history = client.get(f"/items/{item.id}").get_data(as_text=True)
    for photo in stored:
        assert f"/photos/{photo.id}" in history
        served = client.get(f"/photos/{photo.id}")
        assert served.status_code == 200 and served.mimetype == "image/jpeg"
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        served.close()


def test_one_bad_photo_refuses_the_whole_change(client, app_session, app):
    item = app_session.scalar(
        sa.select(RenovationItem).join(Community).join(Street)
        .where(Street.code == "110107002000", RenovationItem.status == Status.CONSTRUCTION))
    sign_in(client)
    page = client.get(f"/items/{item.id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(f"/items/{item.id}/change", content_type="multipart/form-data", data={
        "csrf_token": token, "version": str(item.version), "progress": "70",
        "photos": [(io.BytesIO(image_bytes()), "good.png"),
                   (io.BytesIO(b"not an image"), "bad.jpg")]})
    assert response.status_code == 400
    assert "bad.jpg" in response.get_data(as_text=True)
    app_session.expire_all()
    assert app_session.get(RenovationItem, item.id).version == item.version
    folder = app.instance_path + "/photos"
    import os
    assert not os.path.isdir(folder) or os.listdir(folder) == []
