"""The dashboard: a FastAPI app (REST + one WebSocket) over the running Rig, and the static page in web/."""
