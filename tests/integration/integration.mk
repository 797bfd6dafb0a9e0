# Integration tests: boot the real guest under vmm (directly when this
# host's /dev/kvm works, else inside a Linux VM that offers nested KVM),
# under QEMU TCG, and from the GRUB ISO.

.PHONY: test-integration
test-integration: all $(BUILD)/san/vmm iso
	PYTHONPATH=tools python3 -m unittest discover -s tests/integration -v
