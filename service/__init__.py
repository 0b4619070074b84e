"""HTTP layer only: create_app(settings), routes, request/response schemas, errors, limits, metrics."""
