# Unit tests and fuzz targets for the host-side code (included by the top
# Makefile, whose CC, BUILD, HOST_CFLAGS, HOST_LDLIBS, SAN_FLAGS and
# VMM_SRCS this uses).
#
#   make test-unit     build tests/unit/test_*.c (cmocka, ASan + UBSan) with
#                      $(CC), run them all, then run each fuzz target briefly
#   make test-fuzz     only the fuzz targets (clang libFuzzer), FUZZ_SECONDS each
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

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 10
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_OBJS := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(UNIT_LIB_SRCS))
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_NAMES))

# Objects are shared by every program: keep them.
.SECONDARY: $(UNIT_OBJS) $(FUZZ_OBJS)

$(FUZZ_DIR)/obj/%.o: %.c $(VMM_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(HOST_CFLAGS) -fsanitize=fuzzer-no-link $(FUZZ_SAN) -c -o $@ $<

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS) $(UNIT_HDRS) $(VMM_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(HOST_CFLAGS) -fsanitize=fuzzer $(FUZZ_SAN) -Ivmm -Itests/unit -o $@ $< \
		$(FUZZ_OBJS) $(HOST_LDLIBS)

# Writes the seed corpora (synthetic images, JSON, command lines).
$(FUZZ_DIR)/gen_seeds: tests/fuzz/gen_seeds.c $(UNIT_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(HOST_CFLAGS) -Itests/unit -o $@ $<

# The fuzzers run side by side, FUZZ_SECONDS each; any crash, leak, timeout
# or sanitizer report fails the target, and the reproducer is left in
# $(FUZZ_DIR)/artifacts/.  The corpora persist between runs.
.PHONY: test-fuzz fuzz-build
fuzz-build: $(FUZZ_TARGETS) $(FUZZ_DIR)/gen_seeds

test-fuzz: fuzz-build
	@mkdir -p $(FUZZ_DIR)/artifacts
	@$(FUZZ_DIR)/gen_seeds $(FUZZ_DIR)/corpus
	@if [ -f $(BUILD)/guest.elf ]; then cp $(BUILD)/guest.elf $(FUZZ_DIR)/corpus/loader/guest.elf; fi
	@pids=; for n in $(FUZZ_NAMES); do \
		mkdir -p $(FUZZ_DIR)/corpus/$$n; \
		$(FUZZ_DIR)/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
			-rss_limit_mb=4096 -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_DIR)/artifacts/$$n- \
			$(FUZZ_DIR)/corpus/$$n >$(FUZZ_DIR)/$$n.log 2>&1 & \
		pids="$$pids $$!:$$n"; \
	done; \
	failed=; for p in $$pids; do \
		if wait $${p%%:*}; then \
			echo "fuzz_$${p#*:}: $$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' \
				$(FUZZ_DIR)/$${p#*:}.log | grep -o '[0-9]*$$') runs, no crash"; \
		else \
			echo "fuzz_$${p#*:} FAILED (log: $(FUZZ_DIR)/$${p#*:}.log):" >&2; \
			grep -v '^#\|^INFO\|^MS:\|^base unit' $(FUZZ_DIR)/$${p#*:}.log | head -60 >&2; \
			failed="$$failed $${p#*:}"; \
		fi; \
	done; \
	[ -z "$$failed" ]
