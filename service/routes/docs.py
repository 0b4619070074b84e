"""GET /docs: Swagger UI from assets shipped in the swagger-ui-bundle package (no CDN: works air-gapped)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs-assets"

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def docs() -> HTMLResponse:
    """The interactive API documentation."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="slmrank",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
    )


def install_docs(app: FastAPI) -> None:
    """Serve /docs and its assets from the local package."""
    app.mount(ASSETS, StaticFiles(directory=Path(swagger_ui_path)), name="docs-assets")
    app.include_router(router)
