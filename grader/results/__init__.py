"""Results: scoring, the results store, and the report renderers (json, md, html)."""
