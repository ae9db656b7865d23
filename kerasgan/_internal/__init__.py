"""Internal helpers: argument and data checks, jit resolution. Not public API."""
