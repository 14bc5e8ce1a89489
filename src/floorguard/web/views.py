"""Page and static routes of the web dashboard.

Every page is a server-rendered shell (layout, navigation, empty panels); the
panels fill themselves from the JSON API in the browser, each with its own
loading, error and retry state. The pages hold no user data, so rendering them
needs no authentication: the data calls do, with ``Authorization: Bearer``.

Token storage
-------------
The token the user pastes on the login page is kept in the tab's
``sessionStorage`` and sent as a bearer header by ``static/app.js``. We chose
this over a cookie because a cookie is sent by the browser on its own, which
would expose the state-changing routes (bind, claim) to cross-site request
forgery and would need a second authentication path in the API; a bearer
header cannot be forged cross-site. The XSS exposure that ``sessionStorage``
carries is closed by the Content-Security-Policy below (scripts only from this
origin, no inline scripts) and by rendering every API value with
``textContent``, never ``innerHTML``. The token is gone when the tab closes.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from floorguard import __version__
from floorguard.exceptions import NotFoundError

__all__ = ["PAGES", "Page", "mount_web", "router"]

_HERE = Path(__file__).resolve().parent
_STATIC_DIR = _HERE / "static"
_TEMPLATE_DIR = _HERE / "templates"
_STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(?:js|css|svg|png|ico)$")
_MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}

#: Scripts only from this origin and no inline script; Plotly sets inline styles.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


@dataclass(frozen=True)
class Page:
    """One page of the dashboard.

    Parameters
    ----------
    slug : str
        URL path segment and template/script base name.
    title : str
        Title shown in the navigation and the browser tab.
    admin : bool
        Whether the page is only listed for admin users (the API enforces it).
    """

    slug: str
    title: str
    admin: bool = False


#: The pages, in navigation order.
PAGES: tuple[Page, ...] = (
    Page("portfolio", "Portfolio"),
    Page("risk", "Risk metrics"),
    Page("insurance", "Insurance"),
    Page("policies", "Policies"),
    Page("opportunities", "Opportunities"),
    Page("admin", "Admin", admin=True),
)
_PAGE_BY_SLUG = {p.slug: p for p in PAGES}


@functools.cache
def _environment() -> Any:
    """The Jinja2 environment, built on first use (never at import)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATE_DIR)),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _plotly_bundle() -> Path:
    """Path of ``plotly.min.js`` inside the installed plotly package."""
    import importlib.util

    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise NotFoundError("the plotly package is not installed; charts are unavailable")
    path = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise NotFoundError(f"plotly.min.js is missing from the plotly package ({path})")
    return path


def _security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def render_page(template: str, request: Request, **context: Any) -> HTMLResponse:
    """Render ``template`` with the shared layout context."""
    env = _environment()
    html = env.get_template(template).render(
        pages=PAGES,
        version=__version__,
        static_version=_static_version(),
        path=request.url.path,
        **context,
    )
    return _security_headers(HTMLResponse(html))  # type: ignore[return-value]


@functools.cache
def _static_version() -> str:
    """A cache-busting token: the newest modification time of the static files."""
    mtimes = [p.stat().st_mtime_ns for p in _STATIC_DIR.iterdir() if p.is_file()]
    return format(max(mtimes, default=0) // 1_000_000, "x")


router = APIRouter(include_in_schema=False)


@router.get("/", response_class=RedirectResponse)
def index() -> RedirectResponse:
    """The dashboard starts on the portfolio page (which sends anonymous users to log in)."""
    return RedirectResponse("/portfolio", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    """Paste-your-token login page."""
    return render_page("login.html", request, page=None, title="Log in")


def _page_handler(page: Page) -> Any:
    def handler(request: Request) -> HTMLResponse:
        return render_page(f"{page.slug}.html", request, page=page, title=page.title)

    handler.__name__ = f"page_{page.slug}"
    handler.__doc__ = f"The {page.title} page."
    return handler


for _page in PAGES:
    router.add_api_route(
        f"/{_page.slug}", _page_handler(_page), methods=["GET"], response_class=HTMLResponse
    )


@router.get("/policies/{policy_id}", response_class=HTMLResponse)
def policy_page(request: Request, policy_id: str) -> HTMLResponse:
    """The policies page, opened on one policy."""
    page = _PAGE_BY_SLUG["policies"]
    return render_page("policies.html", request, page=page, title=page.title, policy_id=policy_id)


@router.get("/static/vendor/plotly.min.js")
def plotly_js() -> FileResponse:
    """The Plotly.js bundle shipped inside the ``plotly`` Python package."""
    return FileResponse(
        _plotly_bundle(),
        media_type=_MEDIA_TYPES[".js"],
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/static/{name}")
def static_file(name: str) -> FileResponse:
    """A file of ``web/static`` (flat names only: no path can escape the folder)."""
    path = _STATIC_DIR / name
    if not _STATIC_NAME.match(name) or not path.is_file():
        raise NotFoundError(f"no static file named {name!r}")
    return FileResponse(
        path,
        media_type=_MEDIA_TYPES[path.suffix],
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


def mount_web(app: FastAPI) -> None:
    """Serve the dashboard from ``app``.

    Pages at ``/``, assets under ``/static`` and the dashboard's own JSON
    (``/ui/api/...``, bearer-authenticated).
    """
    from floorguard.web._data import router as data_router

    app.include_router(router)
    app.include_router(data_router)
