"""iomqa: cited passage search over IOM's International Dialogue on Migration reports."""

__version__ = "0.1.0"
