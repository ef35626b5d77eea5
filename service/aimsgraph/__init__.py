"""aimsgraph: a knowledge-graph backed AI risk reasoning service for ISO/IEC 42001."""

__version__ = "0.1.0"
