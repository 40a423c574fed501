"""Which adapter a run uses: ``erp.kind`` in config/paybot.yaml names it.

Built-in kinds are listed in :data:`BUILT_IN` as ``module:factory`` import paths, imported only
when a run opens a session (choosing ``mockerp`` never imports another adapter's libraries).
A package outside paybot adds a kind through the entry-point group ``paybot.finance_systems``
(``tryton = "mypackage.adapter:connect"``), without touching paybot. A factory is a
:data:`~paybot.erp.port.FinanceSystemFactory`.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import cast

from paybot.erp.port import FinanceSystemFactory

DEFAULT_KIND = "mockerp"
ENTRY_POINT_GROUP = "paybot.finance_systems"

BUILT_IN: dict[str, str] = {
    "mockerp": "paybot.erp.mockerp.adapter:connect",
    "tryton": "paybot.erp.tryton.adapter:connect",
}
"""kind → ``module:factory`` of the adapters that come with paybot."""


def kinds() -> dict[str, str]:
    """Every known kind → its ``module:factory``: the built-in ones and those installed
    packages declare (a built-in kind wins over an entry point of the same name)."""
    found = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return found | BUILT_IN


def factory_for(kind: str) -> FinanceSystemFactory:
    """The factory of ``kind``. Raises :class:`KeyError` naming the known kinds for an unknown
    one (the configuration is checked at load time, so a run does not get here with one) and
    :class:`ImportError` when the adapter's module cannot be imported (a missing extra)."""
    known = kinds()
    if kind not in known:
        raise KeyError(f"no finance system of the kind {kind!r}; known: {', '.join(sorted(known))}")
    module, _, name = known[kind].partition(":")
    return cast(FinanceSystemFactory, getattr(importlib.import_module(module), name))
