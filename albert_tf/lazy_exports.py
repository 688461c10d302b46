"""Package names imported on first use (PEP 562), so that a submodule that needs no TensorFlow can
be imported without it."""

import importlib


def lazy_exports(package, exports):
    """`(__all__, __getattr__, __dir__)` for `package` (its `__name__`), where `exports` maps each
    submodule to the names the package offers from it."""
    module_of = {name: module for module, names in exports.items() for name in names}
    names = sorted(module_of)

    def getattr_(name):
        if name not in module_of:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module_of[name]), name)
        setattr(importlib.import_module(package), name, value)
        return value

    def dir_():
        return sorted(set(vars(importlib.import_module(package))) | set(names))

    return names, getattr_, dir_
