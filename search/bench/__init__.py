"""Offline measurement: LFW verification and identification, vector search and pipeline benchmarks.

Nothing on the request path imports this package; it imports the engine (pipeline, selectors),
never the other way round. Its commands are listed in docs/benchmarks.md.
"""
