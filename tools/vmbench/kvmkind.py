"""Which kind of KVM vmm runs on, as vmm itself says (vmm/kvm_kind.c).

A figure measured under vmm means something else on each kind, so the
harness and the benchmarks record it next to every vmm figure:

    from vmbench import kvmkind
    kind, line = kvmkind.check("build/vmm")      # ("pvm", "vmm: /dev/kvm is usable: ...")
    kvmkind.from_check(stdout)                   # the kind in `vmm --check`'s line, or None
    kvmkind.from_vmm_json(doc)                   # doc["host"]["kvm_kind"] of `vmm --json`
    kvmkind.MEANING["pvm"]                       # what it means for the figures

The names are vmm's and stable: hardware, pvm, nested-tcg, nested, unknown.
"""

import re
import subprocess

KINDS = ("hardware", "pvm", "nested-tcg", "nested", "unknown")

# One line per kind: what the kind is, and what it does to the figures.
MEANING = {
    "hardware": "VMX/SVM KVM (kvm_intel/kvm_amd) on bare metal: both guest rings run "
                "natively and an exit costs about a microsecond; the figures are the "
                "hardware's",
    "pvm": "PVM-style KVM (kvm_pvm): guest ring 3 runs natively in a host user context, "
           "guest ring 0 is emulated (~1M instructions/s) and every exit costs 5-20 \u00b5s: "
           "user-mode work (cpu, memory) runs near native speed, while anything that enters "
           "the guest kernel, takes an interrupt or exits (boot, fileio, timers) is much "
           "slower than on hardware KVM",
    "nested-tcg": "KVM inside a VM under QEMU's TCG (tools/linuxvm): every guest instruction "
                  "is emulated, so the figures measure TCG, not KVM or vmm",
    "nested": "KVM inside a VM under another hypervisor: guest code runs natively, but every "
              "exit also goes through the outer hypervisor, so exit-heavy figures are slower "
              "than on bare metal",
    "unknown": "vmm could not tell which kind of KVM this is (no kvm_intel, kvm_amd or "
               "kvm_pvm module in /sys/module)",
}

_CHECK = re.compile(r"/dev/kvm is usable: (\S+) KVM \(")


def from_check(stdout):
    """The kind named in `vmm --check`'s output, or None (no usable KVM, or
    a vmm too old to say)."""
    m = _CHECK.search(stdout or "")
    return m[1] if m and m[1] in KINDS else None


def from_vmm_json(doc):
    """The kind in a `vmm --json` document's host block, or None."""
    kind = ((doc or {}).get("host") or {}).get("kvm_kind")
    return kind if kind in KINDS else None


def check(vmm, run=None):
    """(kind or None, vmm's one line) of `vmm --check`.  run: runs an argv
    and returns (status, stdout, stderr); default here, subprocess.  Give
    another to ask vmm somewhere else (a nested VM's session)."""
    if run is None:
        def run(argv):
            try:
                res = subprocess.run(argv, capture_output=True, text=True, timeout=60)
            except (OSError, subprocess.TimeoutExpired) as e:
                return 125, "", f"vmm --check could not run: {e}"
            return res.returncode, res.stdout, res.stderr
    status, out, err = run([str(vmm), "--check"])
    line = " ".join(((out if status == 0 else err) or out or err or "").split())
    return (from_check(out) if status == 0 else None), line


def session_runner(session):
    """A run= for check() that asks in a linuxvm.Session."""
    def run(argv):
        res = session.run(argv, timeout=120)
        return (res.returncode, res.stdout.decode(errors="replace"),
                res.stderr.decode(errors="replace"))
    return run


def describe(kind):
    """"pvm: PVM-style KVM ..." (kind None: not recorded)."""
    if kind is None:
        return "not recorded"
    return f"{kind}: {MEANING.get(kind, 'a kind this harness does not know')}"
