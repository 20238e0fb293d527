"""Files in and out: tabular reading, one module per importer, exports, boundaries."""
