"""One tiny registry (name -> callable) for methods, metrics, renderers and judges.

Why: adding a thing must touch one file. In-tree modules of `package` are imported on first lookup so
their `@register` decorators run; out-of-tree code is named as "module:attr". Import errors propagate.
"""
import importlib
import pkgutil

from pebench.errors import UserError


class Registry:
    def __init__(self, kind, package=None):
        self.kind = kind
        self.package = package
        self._items = {}
        self._loaded = package is None

    def register(self, name=None):
        """Decorator: `@REG.register("ga")` or `@REG.register()` (uses the function's name)."""

        def decorate(fn):
            key = name or fn.__name__
            if key in self._items and self._items[key] is not fn:
                raise ValueError(f"{self.kind} {key!r} is registered twice")
            self._items[key] = fn
            return fn

        return decorate

    def _load(self):
        if self._loaded:
            return
        self._loaded = True
        pkg = importlib.import_module(self.package)
        for info in pkgutil.iter_modules(pkg.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{self.package}.{info.name}")

    def names(self):
        self._load()
        return sorted(self._items)

    def items(self):
        self._load()
        return sorted(self._items.items())

    def get(self, name):
        """Look up by registered name, or import "module:attr" for out-of-tree code."""
        if ":" in name:
            module, _, attr = name.partition(":")
            return getattr(importlib.import_module(module), attr)
        self._load()
        if name not in self._items:
            raise UserError(f"unknown {self.kind} {name!r}; choose from: {', '.join(self.names())}")
        return self._items[name]

    def __contains__(self, name):
        self._load()
        return name in self._items
