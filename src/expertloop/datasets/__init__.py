"""Delivery: immutable dataset snapshots with manifests and cards, export formats, seed imports."""
