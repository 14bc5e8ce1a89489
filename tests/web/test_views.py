"""Page and static routes of the dashboard (in-process, no browser)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from floorguard.api.errors import install_error_handlers
from floorguard.web import mount_web
from floorguard.web.views import CONTENT_SECURITY_POLICY, PAGES


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    mount_web(app)
    return TestClient(app)


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []
        self.inline: list[str] = []
        self._in_script = False
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        d = dict(attrs)
        self.handlers += [k for k in d if k.startswith("on")]
        if tag == "script":
            if d.get("src"):
                self.srcs.append(d["src"] or "")
            else:
                self._in_script = True

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False


def test_root_redirects_to_portfolio(client: TestClient) -> None:
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/portfolio"


@pytest.mark.parametrize("slug", ["login", *[p.slug for p in PAGES]])
def test_page_renders_with_csp_and_only_external_scripts(client: TestClient, slug: str) -> None:
    r = client.get(f"/{slug}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in r.headers["content-security-policy"]
    parser = _Scripts()
    parser.feed(r.text)
    # CSP forbids inline script: every script is a file of this origin.
    assert parser.inline == []
    assert parser.handlers == []
    assert all(s.startswith("/static/") for s in parser.srcs), parser.srcs
    assert any(re.match(rf"/static/{slug}\.js\?v=", s) for s in parser.srcs), parser.srcs
    if slug != "login":
        assert "/static/vendor/plotly.min.js" in parser.srcs
        # every page script the template names exists
        for src in parser.srcs:
            assert client.get(src.split("?")[0]).status_code == 200, src


def test_policy_detail_page_carries_the_id_escaped(client: TestClient) -> None:
    r = client.get('/policies/12"><b>x')
    assert r.status_code == 200
    assert (
        'data-policy-id="12&#34;&gt;&lt;b&gt;x"' in r.text
        or 'data-policy-id="12&quot;&gt;&lt;b&gt;x"' in r.text
    )
    assert "<b>x" not in r.text


def test_plotly_bundle_is_served_from_the_python_package(client: TestClient) -> None:
    import plotly

    r = client.get("/static/vendor/plotly.min.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert len(r.content) > 1_000_000
    head = r.content[:400].decode("utf-8", "replace")
    assert "plotly.js" in head
    # the very file inside the installed package, not a copy of some other version
    from pathlib import Path

    shipped = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    assert r.content == shipped.read_bytes()


@pytest.mark.parametrize("name", ["app.js", "app.css", "theme.js", "insurance.js"])
def test_static_files_served_with_types(client: TestClient, name: str) -> None:
    r = client.get(f"/static/{name}")
    assert r.status_code == 200
    expected = "text/css" if name.endswith(".css") else "text/javascript"
    assert r.headers["content-type"].startswith(expected)
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "name", ["nope.js", "..%2Fviews.py", "views.py", "%2e%2e%2f__init__.py", "APP.JS"]
)
def test_static_refuses_unknown_and_escaping_names(client: TestClient, name: str) -> None:
    r = client.get(f"/static/{name}")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "import" not in r.text  # never the source of a python file


def test_page_routes_stay_out_of_the_openapi_document(client: TestClient) -> None:
    app = client.app
    assert isinstance(app, FastAPI)
    paths = app.openapi()["paths"]
    assert not any(p.startswith("/static") or p in {"/", "/login", "/portfolio"} for p in paths)
