# Unit tests and fuzz targets for the host-side code (included by the top
# Makefile, whose CC, BUILD, HOST_CFLAGS, HOST_LDLIBS, SAN_FLAGS and
# VMM_SRCS this uses).
#
#   make test-unit     build tests/unit/test_*.c (cmocka, ASan + UBSan) with
#                      $(CC), run them all, then run each fuzz target briefly
#   make test-fuzz     only the fuzz targets (clang libFuzzer), FUZZ_SECONDS each
#   make fuzz          every fuzz target FUZZ_TIME seconds (see below)
#
# Each test program links the real monitor: every vmm/*.c but main.c, plus
# isolation/cpulist.c.  Objects go under $(BUILD)/unit/<compiler>/ so a gcc
# and a clang build never mix.  `make test-unit CC=clang` checks clang.

unit_empty :=
UNIT_DIR := $(BUILD)/unit/$(subst /,_,$(subst $(unit_empty) $(unit_empty),_,$(strip $(CC))))
UNIT_LIB_SRCS := $(filter-out vmm/main.c,$(VMM_SRCS))
UNIT_OBJS := $(patsubst %.c,$(UNIT_DIR)/obj/%.o,$(UNIT_LIB_SRCS))
UNIT_TESTS := $(patsubst tests/unit/%.c,$(UNIT_DIR)/%,$(wildcard tests/unit/test_*.c))
UNIT_HDRS := $(wildcard tests/unit/*.h)
CMOCKA_CFLAGS := $(shell pkg-config --cflags cmocka 2>/dev/null)
CMOCKA_LIBS := $(or $(shell pkg-config --libs cmocka 2>/dev/null),-lcmocka)
UNIT_ENV := ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 VMBENCH_GUEST=$(BUILD)/guest.elf

$(UNIT_DIR)/obj/%.o: %.c $(VMM_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(SAN_FLAGS) -c -o $@ $<

$(UNIT_DIR)/test_%: tests/unit/test_%.c $(UNIT_OBJS) $(UNIT_HDRS) $(VMM_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(SAN_FLAGS) $(CMOCKA_CFLAGS) -Ivmm -Iisolation -o $@ $< \
		$(UNIT_OBJS) $(CMOCKA_LIBS) $(HOST_LDLIBS)

# The guest's PIT calibration is plain C over two clocks: tested here too.
$(UNIT_DIR)/test_pit_calibrate: tests/unit/test_pit_calibrate.c guest/kernel/pit_calibrate.c \
		guest/kernel/pit_calibrate.h
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(SAN_FLAGS) $(CMOCKA_CFLAGS) -Iguest/kernel -o $@ $< \
		guest/kernel/pit_calibrate.c $(CMOCKA_LIBS)

# So are its ACPI checksum and its scan for ring 0's boot options, both
# eight bytes a step.
$(UNIT_DIR)/test_byte_sum: tests/unit/test_byte_sum.c guest/kernel/byte_sum.c \
		guest/kernel/byte_sum.h
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(SAN_FLAGS) $(CMOCKA_CFLAGS) -Iguest/kernel -o $@ $< \
		guest/kernel/byte_sum.c $(CMOCKA_LIBS)
$(UNIT_DIR)/test_boot_options: tests/unit/test_boot_options.c guest/kernel/boot_options.c \
		guest/kernel/boot_options.h guest/include/word_scan.h
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(SAN_FLAGS) $(CMOCKA_CFLAGS) -Iguest/kernel -Iguest/include -o $@ $< \
		guest/kernel/boot_options.c $(CMOCKA_LIBS)

.PHONY: test-unit unit-build unit-run
test-unit: unit-run test-fuzz

unit-build: $(UNIT_TESTS)

# Every program runs even if one fails; the target fails if any did.
unit-run: unit-build
	@failed=; for t in $(UNIT_TESTS); do \
		echo "== $$t"; \
		$(UNIT_ENV) $$t || failed="$$failed $$(basename $$t)"; \
	done; \
	if [ -n "$$failed" ]; then echo "unit tests FAILED:$$failed" >&2; exit 1; fi; \
	echo "unit tests: all $(words $(UNIT_TESTS)) programs passed"

# ---- fuzz targets (libFuzzer, always built with clang) ------------------------------
#
#   make test-fuzz     every target FUZZ_SECONDS (10) at once, as part of make test
#   make fuzz          every target FUZZ_TIME seconds (60), FUZZ_JOBS at a time
#                      (the host's CPUs); prints executions, exec/s, libFuzzer's
#                      final cov: and ft:, corpus size and crashes per target
#
# Corpora live in $(FUZZ_DIR)/corpus/NAME and grow from run to run (the
# seeds from gen_seeds.c are rewritten each time); reproducers of crashes,
# leaks and timeouts go to $(FUZZ_DIR)/artifacts/NAME-*.  Replay one with
# $(FUZZ_DIR)/fuzz_NAME FILE.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 10
FUZZ_TIME ?= 60
FUZZ_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_OBJS := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(UNIT_LIB_SRCS))
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_NAMES))
FUZZ_HDRS := $(wildcard tests/fuzz/*.h)

# Objects are shared by every program: keep them.
.SECONDARY: $(UNIT_OBJS) $(FUZZ_OBJS)

$(FUZZ_DIR)/obj/%.o: %.c $(VMM_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(HOST_CFLAGS) -fsanitize=fuzzer-no-link $(FUZZ_SAN) -c -o $@ $<

# fuzz_devices builds the real device table without /dev/kvm: the calls
# the devices make into KVM (kvm.h) go to the fake KVM in the target.
$(FUZZ_DIR)/fuzz_devices: FUZZ_LDFLAGS := $(foreach f,kvm_ioeventfd kvm_ioeventfd_match \
	kvm_irqfd kvm_set_msi_route,-Wl,--wrap=$(f))

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS) $(UNIT_HDRS) $(FUZZ_HDRS) $(VMM_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(HOST_CFLAGS) -fsanitize=fuzzer $(FUZZ_SAN) -Ivmm -Itests/unit -o $@ $< \
		$(FUZZ_OBJS) $(FUZZ_LDFLAGS) $(HOST_LDLIBS)

# Writes the seed corpora (synthetic images, JSON, command lines, guest
# accesses).
$(FUZZ_DIR)/gen_seeds: tests/fuzz/gen_seeds.c $(UNIT_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(HOST_CFLAGS) -Ivmm -Itests/unit -o $@ $<

.PHONY: test-fuzz fuzz fuzz-build fuzz-seeds
fuzz-build: $(FUZZ_TARGETS) $(FUZZ_DIR)/gen_seeds

fuzz-seeds: fuzz-build
	@$(FUZZ_DIR)/gen_seeds $(FUZZ_DIR)/corpus
	@if [ -f $(BUILD)/guest.elf ]; then cp $(BUILD)/guest.elf $(FUZZ_DIR)/corpus/loader/guest.elf; fi

# Any crash, leak, timeout or sanitizer report fails the target (and the
# make), with the log's report printed (tests/fuzz/run).
test-fuzz: fuzz-seeds
	@tests/fuzz/run $(FUZZ_DIR) $(FUZZ_SECONDS) $(words $(FUZZ_NAMES)) $(FUZZ_NAMES)

fuzz: fuzz-seeds
	@tests/fuzz/run $(FUZZ_DIR) $(FUZZ_TIME) $(FUZZ_JOBS) $(FUZZ_NAMES)
