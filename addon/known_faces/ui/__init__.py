"""The web UI (DESIGN §12): server-rendered pages, their templates and static files.

Pages are rendered here from the same service the HTTP API calls; what a page changes goes
through the API itself (``api/v1/...``, relative URLs), so the UI has no second write path.
"""
