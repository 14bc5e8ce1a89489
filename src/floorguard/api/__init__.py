"""The REST API: ``create_app(settings)`` builds a FastAPI application (no module-level app)."""

from floorguard.api.app import create_app

__all__ = ["create_app"]
