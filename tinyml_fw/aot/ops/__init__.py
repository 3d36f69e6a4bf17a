"""Op lowerings, one module per operator family. Each module's LOWERINGS maps TFLite op names to
functions (Lowering, OpSpec) -> None that add steps, constant arrays or storage aliases; every module in
this package is collected, so adding an op family needs no edit here."""

import importlib
import pkgutil

LOWERINGS = {}
for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    for _op, _fn in _module.LOWERINGS.items():
        if _op in LOWERINGS:
            raise RuntimeError(f"{_op} is lowered by two modules")
        LOWERINGS[_op] = _fn
