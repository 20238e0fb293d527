"""Analyses of regions and networks, in metres; no Flask."""
