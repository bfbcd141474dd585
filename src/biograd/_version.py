"""biograd's version, in a module of its own so that any layer can read it without importing the
package root (``biograd/__init__.py`` imports everything above the engine)."""

__version__ = "0.1.0"
