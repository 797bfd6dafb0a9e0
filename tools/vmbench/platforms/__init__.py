"""The platforms of the comparison, by the names docs/design.md gives them."""


def create(name, options):
    """A platform object for `name`, configured from the command line's
    options (an argparse namespace)."""
    if name == "native":
        from vmbench.platforms.native import NativePlatform
        return NativePlatform(scratch_dir=getattr(options, "scratch_dir", None))
    if name == "container":
        from vmbench.platforms.container import ContainerPlatform
        return ContainerPlatform(scratch_dir=getattr(options, "scratch_dir", None))
    if name == "qemu-linux":
        from vmbench.platforms.qemu_linux import QemuLinuxPlatform
        return QemuLinuxPlatform(accel=options.accel)
    if name == "qemu-guest":
        from vmbench.platforms.qemu_guest import QemuGuestPlatform
        return QemuGuestPlatform(accel=options.accel, machine=options.qemu_machine)
    if name == "vmm":
        from vmbench.platforms.vmm import VmmPlatform
        return VmmPlatform(pin=options.vmm_pin, hugepages=options.vmm_hugepages)
    raise ValueError(f"no platform '{name}' (platforms: {', '.join(NAMES)})")


NAMES = ("native", "container", "qemu-linux", "qemu-guest", "vmm")
