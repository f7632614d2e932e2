"""The seed example as published, plus the bare app's /health route, served together by one uvicorn."""

from bare_app import health
from reference_seed_app import app

app.add_api_route("/health", health, methods=["GET"])
