"""The s2sr version (a module of its own, so modules can import it without the package API)."""

__version__ = "0.1.0"
