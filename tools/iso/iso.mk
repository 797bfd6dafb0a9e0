# ---- the bootable GRUB ISO ------------------------------------------------------
#
#   make iso    $(BUILD)/vmbench.iso: GRUB 2 boots guest.elf from the menu in
#               tools/iso/grub.cfg, on COM1.  docs/bare-metal.md says how to use it.
#
# BIOS boot only (CD and USB stick): "-d" pins grub-mkrescue to the i386-pc
# platform, so the image does not change with whether grub-efi-amd64-bin happens
# to be installed.  Needs grub-pc-bin, grub-common and xorriso (make deps); no
# network.  Not byte-for-byte reproducible: grub-mkrescue stamps the volume with
# the build time, which is also the UUID its core image searches for at boot.

ISO := $(BUILD)/vmbench.iso
ISO_ROOT := $(BUILD)/iso-root
GRUB_PC_DIR ?= /usr/lib/grub/i386-pc

.PHONY: iso
iso: $(ISO)

# Translations, themes and fonts serve only GRUB's graphical menu: left out.
# All modules stay, so every command works at the GRUB prompt ('c').  After
# "--", xorriso's own options: warnings and errors only, not its progress.
$(ISO): $(BUILD)/guest.elf tools/iso/grub.cfg tools/iso/iso.mk
	@test -d $(GRUB_PC_DIR) || \
		{ echo "iso: no $(GRUB_PC_DIR): install grub-pc-bin (make deps)" >&2; exit 1; }
	grub-file --is-x86-multiboot $(BUILD)/guest.elf
	grub-script-check tools/iso/grub.cfg
	rm -rf $(ISO_ROOT)
	mkdir -p $(ISO_ROOT)/boot/grub
	cp $(BUILD)/guest.elf $(ISO_ROOT)/boot/guest.elf
	cp tools/iso/grub.cfg $(ISO_ROOT)/boot/grub/grub.cfg
	grub-mkrescue -d $(GRUB_PC_DIR) \
		--locales= --themes= --fonts= -o $@.tmp $(ISO_ROOT) -- -report_about WARNING
	mv $@.tmp $@
