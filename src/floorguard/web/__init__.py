"""The web dashboard: server-rendered pages over the JSON API.

The pages are Jinja2 templates with a little vanilla JavaScript that calls the
JSON API (``/api/...``) with the user's bearer token; there is no build step.
Charts use Plotly.js, served from the bundle that ships inside the ``plotly``
Python package, so nothing is fetched from a CDN.

Public names
------------
router
    The :class:`fastapi.APIRouter` with every page and static route.
mount_web
    ``mount_web(app)`` includes :data:`router` in a FastAPI application.
"""

from __future__ import annotations

from floorguard.web.views import mount_web, router

__all__ = ["mount_web", "router"]
