"""offpolicy's version, in a module of its own so that any module can read it without importing the package's
public API (``offpolicy/__init__.py`` imports the API classes, which import the training shell)."""

__version__ = "0.1.0"
