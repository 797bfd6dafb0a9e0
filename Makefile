# vmbench - build, test, run.  See README.md.
#
#   make            build/vmm and build/guest.elf
#   make test       unit tests (ASan+UBSan), integration tests, QEMU and GRUB boots
#   make fuzz       every fuzz target FUZZ_TIME seconds (60), with figures per target
#   make run        a demo benchmark in the guest
#   make deps       install the Debian packages everything needs

CC ?= cc
BUILD := build
PREFIX ?= /usr/local

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
HOST_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) -pthread
HOST_LDLIBS := -pthread -ldl -lseccomp
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

VMM_SRCS := $(wildcard vmm/*.c) isolation/cpulist.c
VMM_HDRS := $(wildcard vmm/*.h) isolation/cpulist.h

.PHONY: all
all: $(BUILD)/vmm $(BUILD)/guest.elf $(BUILD)/timecmd
# A static PIE (still randomized): a dynamic vmm's RSS has about 0.9 MiB
# more of ld.so and of libc's pages mapped in around the ones it uses
# (docs/results.md).  The linker's warnings that dlopen and getpwnam need
# this glibc's own shared libraries at run time are expected: the reaper
# dlopens Capstone, --user looks names up; both fail cleanly without them.
$(BUILD)/vmm: $(VMM_SRCS) $(VMM_HDRS) | $(BUILD)
	$(CC) $(HOST_CFLAGS) -static-pie -o $@ $(VMM_SRCS) $(HOST_LDLIBS)

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
# Ring-0 code (guest/boot, guest/kernel) is built with general registers
# only: no SSE or x87, which an instruction emulator may not handle.  Ring
# 3 (guest/user, guest/drivers, guest/workloads) is built as sysbench is on
# Debian: -O2 -funroll-loops (sysbench's configure adds the unrolling) for
# baseline x86-64, SSE2 included.  The small C library in
# guest/lib is built once for each ring (-DGUEST_RING=0 or 3, objects in
# lib/ring0/ and lib/ring3/): ring 0's copy has no floating point (printf
# leaves %f %e %g unformatted), ring 3's formats doubles.  Each ring sees
# only its own headers: ring 0 guest/include and guest/kernel, ring 3
# guest/include, guest/user and guest/drivers.  -nostdinc: nothing comes
# from the build host's /usr/include (the compiler's own freestanding
# headers do: stdint.h, stdarg.h ...; the Linux uapi headers the drivers
# use are copies in guest/include/linux/).

GUEST_CC ?= $(CC)
GUEST_BASE := -std=c11 -ffreestanding -nostdinc -isystem $(shell $(GUEST_CC) -print-file-name=include) \
	-fno-pic -fno-pie -fno-stack-protector \
	-fno-asynchronous-unwind-tables -march=x86-64 -mtune=generic -O2 -g \
	$(WARN) -Iguest/include
GUEST_RING0 := $(GUEST_BASE) -DGUEST_RING=0 -Iguest/kernel -mgeneral-regs-only -mno-red-zone
GUEST_RING3 := $(GUEST_BASE) -DGUEST_RING=3 -funroll-loops -Iguest/user -Iguest/drivers

GUEST_ASM := $(wildcard guest/boot/*.S)
GUEST_LIB_SRCS := $(wildcard guest/lib/*.c)
GUEST_RING0_SRCS := $(wildcard guest/kernel/*.c)
GUEST_RING3_SRCS := $(wildcard guest/user/*.c guest/workloads/*.c guest/drivers/*.c)
GUEST_HDRS := $(wildcard guest/include/*.h guest/include/linux/*.h guest/kernel/*.h \
	guest/user/*.h guest/drivers/*.h guest/workloads/*.h)
GUEST_RING0_OBJS := $(patsubst %,$(BUILD)/%.o,$(GUEST_ASM) $(GUEST_RING0_SRCS)) \
	$(patsubst guest/lib/%,$(BUILD)/guest/lib/ring0/%.o,$(GUEST_LIB_SRCS))
GUEST_RING3_OBJS := $(patsubst %,$(BUILD)/%.o,$(GUEST_RING3_SRCS)) \
	$(patsubst guest/lib/%,$(BUILD)/guest/lib/ring3/%.o,$(GUEST_LIB_SRCS))

# The objects depend on the flags they were built with, through a stamp
# rewritten only when the flags change: a new flag (say -funroll-loops,
# which the loop-fidelity test relies on) rebuilds the guest without a
# `make clean`.
GUEST_FLAGS_STAMP := $(BUILD)/guest/flags.stamp
$(GUEST_FLAGS_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(GUEST_CC) $(GUEST_RING0) | $(GUEST_RING3)' | cmp -s - $@ || \
		echo '$(GUEST_CC) $(GUEST_RING0) | $(GUEST_RING3)' > $@
.PHONY: FORCE
FORCE:

$(BUILD)/guest/boot/%.S.o: guest/boot/%.S $(GUEST_HDRS) $(GUEST_FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_RING0) -c -o $@ $<

$(BUILD)/guest/kernel/%.c.o $(BUILD)/guest/lib/ring0/%.c.o: GUEST_FLAGS = $(GUEST_RING0)
$(BUILD)/guest/user/%.c.o $(BUILD)/guest/workloads/%.c.o $(BUILD)/guest/drivers/%.c.o \
$(BUILD)/guest/lib/ring3/%.c.o: GUEST_FLAGS = $(GUEST_RING3)
$(BUILD)/guest/%.c.o: guest/%.c $(GUEST_HDRS) $(GUEST_FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_FLAGS) -c -o $@ $<
# (one rule per ring: a pattern rule with two targets would build both at once)
$(BUILD)/guest/lib/ring0/%.c.o: guest/lib/%.c $(GUEST_HDRS) $(GUEST_FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_FLAGS) -c -o $@ $<
$(BUILD)/guest/lib/ring3/%.c.o: guest/lib/%.c $(GUEST_HDRS) $(GUEST_FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_FLAGS) -c -o $@ $<

# Ring 0 is linked first into one object whose only global symbol is
# _start: its copy of lib is private to it, so neither ring can reach the
# other's.  Ring 0 never calls ring-3 code; the one ring-3 symbol it names is
# user_main, the first thread's entry, which it enters with iretq (and
# _image_end comes from the linker script).  Anything else fails the build.
GUEST_RING0_EXTERNS := user_main _image_end trap_stubs_low16 trap_stubs_high16
$(BUILD)/guest/ring0.o: $(GUEST_RING0_OBJS)
	ld -r -z noexecstack -o $@.all $^
	@bad=$$(nm -u $@.all | awk '{print $$2}' | grep -vx $(GUEST_RING0_EXTERNS:%=-e %)); \
	if [ -n "$$bad" ]; then echo "ring-0 code refers to symbols outside ring 0:" $$bad >&2; exit 1; fi
	objcopy --keep-global-symbol=_start $@.all $@

# Linked as ELF64, shipped as ELF32: QEMU's multiboot loader refuses ELF64
# (kvm-unit-tests does the same).
$(BUILD)/guest64.elf: $(BUILD)/guest/ring0.o $(GUEST_RING3_OBJS) guest/linker.ld
	ld -nostdlib -static -no-pie -z noexecstack -z max-page-size=4096 \
		-T guest/linker.ld -o $@ $(BUILD)/guest/ring0.o $(GUEST_RING3_OBJS)

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
# Ends with the goals of issue 12 and how far each is met.
bench-boot: all
	bench/boot --runs 11 --json $(BUILD)/bench-boot.json

# sysbench on this host against the guest's cpu and memory tests, with the
# goals: guest/native >= 0.98 for cpu, >= 0.95 for 1M sequential read and write.
bench-guest: all
	bench/guest-vs-native --reps 5 --time 5 --json $(BUILD)/bench-guest.json

# sysbench fileio on this host against the guest's fileio under vmm and QEMU,
# with the goals (rndrd 16K 1t direct: vmm >= 0.85x native, >= 1.2x QEMU-KVM).
# FILEIO_VMM_DISK=poll adds ,poll to vmm's --disk (docs/virtio-blk.md).
FILEIO_VMM_DISK ?=
bench-fileio: all
	bench/fileio-vs-native --reps 5 --time 5 --vmm-disk "$(FILEIO_VMM_DISK)" \
		--json $(BUILD)/bench-fileio.json

.PHONY: install
install: all
	install -D -m 755 $(BUILD)/vmm $(DESTDIR)$(PREFIX)/bin/vmm
	install -D -m 644 $(BUILD)/guest.elf $(DESTDIR)$(PREFIX)/share/vmbench/guest.elf

.PHONY: clean
clean:
	rm -rf $(BUILD)
