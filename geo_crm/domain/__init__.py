"""The domain: plain functions on a Session; no Flask (see docs/layout.md)."""
