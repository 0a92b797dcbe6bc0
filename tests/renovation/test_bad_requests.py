"""No input produces a 500: odd paths and parameters get a 4xx saying what is wrong."""

import pytest

NASTY = [
    "/streets/%00", "/streets/" + "9" * 300, "/streets/'; DROP TABLE streets; --",
    "/communities/0", "/communities/99999999999999999999", "/communities/-1",
    "/api/map/communities?bbox=116,39,117,40&street=%00",
    "/api/map/communities?bbox=116,39,117,40&zoom=%00",
    "/api/map/items?bbox=116,39,117,40&community=99999999999999999999",
    "/api/map/items?bbox=116,39,117,40&community=0",
    "/api/map/items?bbox=116,39,117,40&kind=%00",
    "/api/map/items?bbox=1e308,1e308,1e308,1e308",
    "/api/map/items?bbox=" + ",".join(["1"] * 4000),
    "/lang/%00", "/lang/" + "x" * 1000, "/lang/en?next=%00",
]


@pytest.mark.parametrize("path", NASTY)
def test_nasty_requests_get_a_clear_4xx(client, path):
    response = client.get(path)
    assert 400 <= response.status_code < 500, (path, response.status_code)
    body = response.get_data(as_text=True)
    assert "Traceback" not in body


def test_json_errors_have_one_shape(client):
    response = client.get("/api/map/communities?bbox=a,b,c,d")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["status"] == 400 and "bbox" in error["message"]
