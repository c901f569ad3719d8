"""AfiniTwin Appliance: the AfiniTwin B2B API v1, self-hosted."""

__version__ = "1.0.0"
