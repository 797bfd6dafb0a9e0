# vmbench - build, test, run.  See README.md.
#
#   make            build/vmm and build/guest.elf
#   make test       unit tests (ASan+UBSan), integration tests, QEMU and GRUB boots
#   make run        a demo benchmark in the guest
#   make deps       install the Debian packages everything needs

CC ?= cc
BUILD := build
PREFIX ?= /usr/local

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
HOST_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) -pthread
HOST_LDLIBS := -pthread -ldl
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

VMM_SRCS := $(wildcard vmm/*.c) isolation/cpulist.c
VMM_HDRS := $(wildcard vmm/*.h) isolation/cpulist.h

.PHONY: all
all: $(BUILD)/vmm $(BUILD)/guest.elf $(BUILD)/timecmd
$(BUILD)/vmm: $(VMM_SRCS) $(VMM_HDRS) | $(BUILD)
	$(CC) $(HOST_CFLAGS) -o $@ $(VMM_SRCS) $(HOST_LDLIBS)

# The same monitor with AddressSanitizer and UBSan, for the test suite.
$(BUILD)/san/vmm: $(VMM_SRCS) $(VMM_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(SAN_FLAGS) -o $@ $(VMM_SRCS) $(HOST_LDLIBS)

$(BUILD):
	mkdir -p $@

# Wall time and peak RSS of a command (bench/boot), also inside a Linux VM.
$(BUILD)/timecmd: tools/timecmd.c | $(BUILD)
	$(CC) -std=c11 -O2 $(WARN) -o $@ $<


# ---- the guest kernel --------------------------------------------------------
#
# Ring-0 code (guest/kernel, guest/lib) is built with general registers
# only: no SSE or x87, which an instruction emulator may not handle.  Ring
# 3 (guest/user, guest/tests) is built as sysbench is on Debian: -O2 for
# baseline x86-64, SSE2 included.

GUEST_CC ?= $(CC)
GUEST_BASE := -std=c11 -ffreestanding -fno-pic -fno-pie -fno-stack-protector \
	-fno-asynchronous-unwind-tables -march=x86-64 -mtune=generic -O2 -g \
	$(WARN) -Iguest/include -Iguest/kernel -Iguest/user
GUEST_RING0 := $(GUEST_BASE) -mgeneral-regs-only -mno-red-zone
GUEST_RING3 := $(GUEST_BASE)

GUEST_ASM := $(wildcard guest/boot/*.S)
GUEST_RING0_SRCS := $(wildcard guest/kernel/*.c guest/lib/*.c)
GUEST_RING3_SRCS := $(wildcard guest/user/*.c guest/tests/*.c guest/drivers/*.c)
GUEST_HDRS := $(wildcard guest/include/*.h guest/kernel/*.h guest/user/*.h)
GUEST_OBJS := $(patsubst %,$(BUILD)/%.o,$(GUEST_ASM) $(GUEST_RING0_SRCS) $(GUEST_RING3_SRCS))

$(BUILD)/guest/boot/%.S.o: guest/boot/%.S $(GUEST_HDRS)
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_RING0) -c -o $@ $<

$(BUILD)/guest/kernel/%.c.o $(BUILD)/guest/lib/%.c.o: GUEST_FLAGS = $(GUEST_RING0)
$(BUILD)/guest/user/%.c.o $(BUILD)/guest/tests/%.c.o $(BUILD)/guest/drivers/%.c.o: GUEST_FLAGS = $(GUEST_RING3)
$(BUILD)/guest/%.c.o: guest/%.c $(GUEST_HDRS)
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_FLAGS) -c -o $@ $<

# Linked as ELF64, shipped as ELF32: QEMU's multiboot loader refuses ELF64
# (kvm-unit-tests does the same).
$(BUILD)/guest64.elf: $(GUEST_OBJS) guest/linker.ld
	ld -nostdlib -static -no-pie -z noexecstack -z max-page-size=4096 \
		-T guest/linker.ld -o $@ $(GUEST_OBJS)

$(BUILD)/guest.elf: $(BUILD)/guest64.elf
	objcopy -O elf32-i386 $< $@

# ---- the rest: each area keeps its own rules -----------------------------------

include tests/unit/unit.mk
include tests/integration/integration.mk
include tools/iso/iso.mk

.PHONY: deps
deps:
	@tools/install-deps

.PHONY: test
test: deps
	$(MAKE) all $(BUILD)/san/vmm
	$(MAKE) check-clang
	$(MAKE) test-unit
	$(MAKE) test-tools
	$(MAKE) test-integration
	$(MAKE) test-bench

# -Wall -Wextra -Werror must hold for clang as well as gcc.
.PHONY: check-clang
check-clang:
	$(MAKE) --no-print-directory CC=clang GUEST_CC=clang BUILD=$(BUILD)/clang all

.PHONY: test-tools
test-tools:
	PYTHONPATH=tools python3 -m unittest discover -s tests/tools -v

# The demo: where this host cannot run KVM guests, run-guest runs vmm in a
# Linux VM with nested KVM.
# The harness: its parts, each platform, and one end-to-end --quick run.
.PHONY: test-bench
test-bench: all
	PYTHONPATH=tools python3 -m unittest discover -s tests/bench -v

.PHONY: run
run: deps all
	tools/run-guest --smp 2 --mem 1G $(BUILD)/guest.elf cpu --cpu-max-prime=10000 --threads=2 --time=5

# ---- benchmarks (figures for closing notes live here, not in timed tests) ----

.PHONY: bench-boot bench-guest bench-fileio
bench-boot: all
	bench/boot --runs 11 --json $(BUILD)/bench-boot.json

# sysbench on this host against the guest's cpu and memory tests.
bench-guest: all
	bench/guest-vs-native --reps 5 --time 5 --json $(BUILD)/bench-guest.json

# sysbench fileio on this host against the guest's fileio under vmm and QEMU.
bench-fileio: all
	bench/fileio-vs-native --reps 5 --time 5 --json $(BUILD)/bench-fileio.json

.PHONY: install
install: all
	install -D -m 755 $(BUILD)/vmm $(DESTDIR)$(PREFIX)/bin/vmm
	install -D -m 644 $(BUILD)/guest.elf $(DESTDIR)$(PREFIX)/share/vmbench/guest.elf

.PHONY: clean
clean:
	rm -rf $(BUILD)
