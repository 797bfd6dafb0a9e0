"""The platforms of the comparison, by the names docs/design.md gives them.

Each module here registers its platform (registry.register: name, options,
how to build it); importing this package registers them all, in the order
bench/compare lists them.  create(name, options) builds one.  NAMES are all
of them; DEFAULTS those that run when no platform is named (not the
variants vmm-pinned and vmm-isolated, which presets name).
"""

from vmbench.platforms import registry
from vmbench.platforms.registry import add_options, create, names

__all__ = ["NAMES", "DEFAULTS", "add_options", "create", "names", "registry"]

# Importing a platform's module registers it: this order is NAMES'.
from vmbench.platforms import native, container, qemu_linux, qemu_guest, vmm  # noqa: E402,F401
from vmbench.platforms import vmm_pinned, nested  # noqa: E402,F401

NAMES = registry.names()
DEFAULTS = registry.defaults()
