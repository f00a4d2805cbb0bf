"""The PostgreSQL backend with row-level security scopes (see scope.py)."""
