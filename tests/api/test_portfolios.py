"""Portfolio routes: CRUD, CSV/JSON upload, ownership (another user's id is 404)."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import assert_problem

POSITIONS = [
    {"symbol": "AAPL", "quantity": 10},
    {"symbol": "MSFT", "quantity": 8, "beta": 1.0},
    {"symbol": "PRIVATE-CO", "quantity": 1, "price": 25000, "asset_type": "private", "beta": 0.8},
]


def create(client: Any, user: Any, name: str = "core", positions: Any = None) -> dict[str, Any]:
    resp = client.post("/api/portfolios", json={"name": name, "positions": positions or POSITIONS}, headers=user.headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_crud_cycle(client: Any, alice: Any) -> None:
    made = create(client, alice)
    assert made["owner_id"] == alice.id and [p["symbol"] for p in made["positions"]] == ["AAPL", "MSFT", "PRIVATE-CO"]
    listed = client.get("/api/portfolios", headers=alice.headers).json()
    assert [(p["name"], p["n_positions"]) for p in listed] == [("core", 3)]
    pid = made["id"]
    got = client.get(f"/api/portfolios/{pid}", headers=alice.headers).json()
    assert got == made
    upd = client.put(
        f"/api/portfolios/{pid}",
        json={"name": "renamed", "positions": [{"symbol": "JNJ", "quantity": 5}]},
        headers=alice.headers,
    )
    assert upd.status_code == 200, upd.text
    assert upd.json()["name"] == "renamed" and upd.json()["positions"][0]["symbol"] == "JNJ"
    assert client.delete(f"/api/portfolios/{pid}", headers=alice.headers).status_code == 204
    assert_problem(client.get(f"/api/portfolios/{pid}", headers=alice.headers), 404)


def test_duplicate_name_conflicts_unless_replace(client: Any, alice: Any) -> None:
    create(client, alice)
    assert_problem(client.post("/api/portfolios", json={"name": "core", "positions": POSITIONS}, headers=alice.headers), 409)
    again = client.post(
        "/api/portfolios",
        json={"name": "core", "positions": POSITIONS[:1], "replace": True},
        headers=alice.headers,
    )
    assert again.status_code == 201 and len(again.json()["positions"]) == 1


def test_unknown_symbol_without_price_names_field(client: Any, alice: Any) -> None:
    body = assert_problem(
        client.post("/api/portfolios", json={"name": "x", "positions": [{"symbol": "NOPE", "quantity": 1}]},
                    headers=alice.headers),
        422,
    )
    assert body["errors"][0]["field"] == "positions.0.symbol" and "NOPE" in body["errors"][0]["reason"]
    zero = assert_problem(
        client.post("/api/portfolios", json={"name": "x", "positions": [{"symbol": "AAPL", "quantity": 0}]},
                    headers=alice.headers),
        422,
    )
    assert zero["errors"][0]["field"] == "positions.0.quantity"


def test_csv_upload_all_or_nothing(client: Any, alice: Any) -> None:
    good = "symbol,quantity,price,asset_type,beta,sector\nAAPL,100,,equity,,\nSPY_X,2,410.5,etf,1.0,\n"
    resp = client.post(
        "/api/portfolios/upload",
        files={"file": ("mine.csv", good.encode(), "text/csv")},
        headers=alice.headers,
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["name"] == "mine" and len(resp.json()["positions"]) == 2
    bad = "symbol,quantity\nAAPL,abc\nMSFT,0\nUNKNOWNXYZ,3\n"
    body = assert_problem(
        client.post("/api/portfolios/upload", files={"file": ("bad.csv", bad.encode(), "text/csv")},
                    data={"name": "bad"}, headers=alice.headers),
        422,
    )
    lines = sorted({e.get("line") for e in body["errors"] if e.get("line")})
    assert lines[:2] == [2, 3]
    assert [p["name"] for p in client.get("/api/portfolios", headers=alice.headers).json()] == ["mine"]
    js = b'{"positions": [{"symbol": "KO", "quantity": 3}]}'
    resp = client.post("/api/portfolios/upload", files={"file": ("k.json", js, "application/json")},
                       data={"name": "ko"}, headers=alice.headers)
    assert resp.status_code == 201 and resp.json()["positions"][0]["symbol"] == "KO"
    assert_problem(
        client.post("/api/portfolios/upload", files={"file": ("x.csv", b"\xff\xfe\x00", "text/csv")}, headers=alice.headers),
        422,
    )


def test_other_users_portfolio_is_not_found(client: Any, alice: Any, bob: Any) -> None:
    pid = create(client, alice)["id"]
    assert_problem(client.get(f"/api/portfolios/{pid}", headers=bob.headers), 404)
    assert_problem(
        client.put(f"/api/portfolios/{pid}", json={"positions": [{"symbol": "KO", "quantity": 1}]}, headers=bob.headers),
        404,
    )
    assert_problem(client.delete(f"/api/portfolios/{pid}", headers=bob.headers), 404)
    assert client.get("/api/portfolios", headers=bob.headers).json() == []
    assert client.get(f"/api/portfolios/{pid}", headers=alice.headers).status_code == 200
