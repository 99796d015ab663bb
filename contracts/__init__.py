"""Typed payloads that cross a process boundary, imported by the side that builds them and the
side that reads them."""
