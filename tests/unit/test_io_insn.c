/*
 * test_io_insn.c - the instruction behind a port-I/O exit (vmm/io_insn.c):
 * decoding every in/out/ins/outs form with its prefixes in 16-, 32- and
 * 64-bit code, and finding it at RIP (hardware KVM) or ending at RIP
 * (PVM-style KVM), or not at all.
 */
#include "unit.h"

#include "io.h"

#define RIP 0x101000ULL

/* ---- decoding ------------------------------------------------------------- */

struct decode_case {
	const char *what;
	enum io_insn_mode mode;
	uint8_t bytes[IO_INSN_MAX + 2];
	unsigned nbytes;
	unsigned len;             /* 0: not a port-I/O instruction */
	bool out, string, port_dx;
	unsigned size;
	uint16_t port;
	bool idle_prefix;
};

#define M16 IO_INSN_16
#define M32 IO_INSN_32
#define M64 IO_INSN_64
/* what, mode, {bytes}, nbytes, len, out, string, port_dx, size, port, idle */
#define NOT_IO 0, false, false, false, 0, 0, false
static const struct decode_case decode_cases[] = {
	/* Every opcode, no prefix. */
	{"in al, imm8", M32, {0xe4, 0x99}, 2, 2, false, false, false, 1, 0x99, false},
	{"in eax, imm8", M32, {0xe5, 0x71}, 2, 2, false, false, false, 4, 0x71, false},
	{"out imm8, al", M32, {0xe6, 0x80}, 2, 2, true, false, false, 1, 0x80, false},
	{"out imm8, eax", M64, {0xe7, 0xf4}, 2, 2, true, false, false, 4, 0xf4, false},
	{"in al, dx", M32, {0xec}, 1, 1, false, false, true, 1, 0, false},
	{"in eax, dx", M64, {0xed}, 1, 1, false, false, true, 4, 0, false},
	{"out dx, al", M32, {0xee}, 1, 1, true, false, true, 1, 0, false},
	{"out dx, eax", M32, {0xef}, 1, 1, true, false, true, 4, 0, false},
	{"insb", M32, {0x6c}, 1, 1, false, true, true, 1, 0, false},
	{"insd", M64, {0x6d}, 1, 1, false, true, true, 4, 0, false},
	{"outsb", M32, {0x6e}, 1, 1, true, true, true, 1, 0, false},
	{"outsd", M32, {0x6f}, 1, 1, true, true, true, 4, 0, false},
	/* Trailing bytes are not part of it. */
	{"out imm8, al; nop", M32, {0xe6, 0x80, 0x90}, 3, 2, true, false, false, 1, 0x80, false},
	/* Operand size: 16-bit code has 16-bit default, 66 flips it. */
	{"in ax, imm8 (16-bit)", M16, {0xe5, 0x60}, 2, 2, false, false, false, 2, 0x60, false},
	{"in eax, dx (16-bit, 66)", M16, {0x66, 0xed}, 2, 2, false, false, true, 4, 0, false},
	{"out dx, ax (32-bit, 66)", M32, {0x66, 0xef}, 2, 2, true, false, true, 2, 0, false},
	{"outsw (64-bit, 66)", M64, {0x66, 0x6f}, 2, 2, true, true, true, 2, 0, false},
	{"out dx, al (16-bit)", M16, {0xee}, 1, 1, true, false, true, 1, 0, false},
	{"66 on a byte access", M32, {0x66, 0xee}, 2, 2, true, false, true, 1, 0, true},
	{"66 66 out dx, ax", M32, {0x66, 0x66, 0xef}, 3, 3, true, false, true, 2, 0, true},
	/* REP and address size: meaningful on ins/outs only. */
	{"rep outsb", M64, {0xf3, 0x6e}, 2, 2, true, true, true, 1, 0, false},
	{"repne insb", M32, {0xf2, 0x6c}, 2, 2, false, true, true, 1, 0, false},
	{"rep outsw", M32, {0xf3, 0x66, 0x6f}, 3, 3, true, true, true, 2, 0, false},
	{"addr32 rep insd", M64, {0x67, 0xf3, 0x6d}, 3, 3, false, true, true, 4, 0, false},
	{"repne in al, dx", M32, {0xf2, 0xec}, 2, 2, false, false, true, 1, 0, true},
	{"addr16 out dx, al", M32, {0x67, 0xee}, 2, 2, true, false, true, 1, 0, true},
	{"rep rep outsb", M32, {0xf3, 0xf3, 0x6e}, 3, 3, true, true, true, 1, 0, true},
	/* Segment overrides: outs reads DS:rSI, which they replace. */
	{"cs outsb", M32, {0x2e, 0x6e}, 2, 2, true, true, true, 1, 0, false},
	{"fs outsb (64-bit)", M64, {0x64, 0x6e}, 2, 2, true, true, true, 1, 0, false},
	{"gs rep outsd", M16, {0x65, 0xf3, 0x6f}, 3, 3, true, true, true, 2, 0, false},
	{"cs outsb (64-bit: ignored)", M64, {0x2e, 0x6e}, 2, 2, true, true, true, 1, 0, true},
	{"es insb (ins writes ES)", M32, {0x26, 0x6c}, 2, 2, false, true, true, 1, 0, true},
	{"ds out imm8", M32, {0x3e, 0xe6, 0x80}, 3, 3, true, false, false, 1, 0x80, true},
	{"ss ss outsb", M32, {0x36, 0x36, 0x6e}, 3, 3, true, true, true, 1, 0, true},
	/* REX, 64-bit mode only; REX.W does not make a 64-bit access. */
	{"REX.B out dx, al", M64, {0x41, 0xee}, 2, 2, true, false, true, 1, 0, true},
	{"REX.W out dx, eax", M64, {0x48, 0xef}, 2, 2, true, false, true, 4, 0, true},
	{"66 REX.W in eax, dx", M64, {0x66, 0x48, 0xed}, 3, 3, false, false, true, 4, 0, true},
	{"REX then 66 (REX ignored)", M64, {0x48, 0x66, 0xef}, 3, 3, true, false, true, 2, 0,
	 true},
	{"rep REX outsb", M64, {0xf3, 0x40, 0x6e}, 3, 3, true, true, true, 1, 0, true},
	{"48 in 32-bit code is dec eax", M32, {0x48, 0xef}, 2, NOT_IO},
	{"41 in 16-bit code is inc cx", M16, {0x41, 0xee}, 2, NOT_IO},
	/* Longest legal: 14 prefixes and the opcode. */
	{"14 prefixes", M32, {0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
			      0x66, 0x66, 0xf3, 0x6f}, 15, 15, true, true, true, 2, 0, true},
	{"13 prefixes and imm8", M32, {0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e,
				       0x2e, 0x2e, 0x2e, 0xe4, 0x10}, 15, 15, false, false, false,
	 1, 0x10, true},
	/* Not port-I/O instructions. */
	{"16 bytes", M32, {0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
			   0x66, 0x66, 0x66, 0xf3, 0x6f}, 16, NOT_IO},
	{"14 prefixes and imm8", M32, {0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e,
				       0x2e, 0x2e, 0x2e, 0x2e, 0xe4, 0x10}, 16, NOT_IO},
	{"lock out (#UD)", M32, {0xf0, 0xee}, 2, NOT_IO},
	{"nop", M32, {0x90}, 1, NOT_IO},
	{"hlt", M64, {0xf4}, 1, NOT_IO},
	{"mov edi, imm32", M64, {0xbf, 0x88, 0xd7, 0x10, 0x00}, 5, NOT_IO},
	{"0f-escaped", M32, {0x0f, 0xee}, 2, NOT_IO},
	{"imm8 missing", M32, {0xe6}, 1, NOT_IO},
	{"prefixes only", M32, {0x66, 0xf3, 0x2e}, 3, NOT_IO},
	{"nothing", M32, {0}, 0, NOT_IO},
};

static void test_decode_every_form(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]); i++) {
		const struct decode_case *c = &decode_cases[i];
		/* Exactly nbytes on the heap, so ASan catches a read past them. */
		uint8_t *code = malloc(c->nbytes ? c->nbytes : 1);
		struct io_insn insn;
		bool ok;

		assert_non_null(code);
		memcpy(code, c->bytes, c->nbytes);
		ok = io_insn_decode(code, c->nbytes, c->mode, &insn);
		free(code);
		if (!c->len) {
			if (ok)
				fail_msg("%s: decoded as a %u-byte I/O instruction", c->what,
					 insn.len);
			continue;
		}
		if (!ok)
			fail_msg("%s: not decoded", c->what);
		if (insn.len != c->len || insn.out != c->out || insn.string != c->string ||
		    insn.port_dx != c->port_dx || insn.size != c->size ||
		    (!c->port_dx && insn.port != c->port) || insn.idle_prefix != c->idle_prefix)
			fail_msg("%s: got len %u out %d string %d dx %d size %u port 0x%x idle %d",
				 c->what, insn.len, insn.out, insn.string, insn.port_dx,
				 insn.size, insn.port, insn.idle_prefix);
	}
}

/* ---- finding the instruction of an exit -------------------------------------- */

/* A window whose readable bytes are `before` (ending at RIP) and `after`
 * (from RIP); the rest holds bytes that would decode as `out dx, al` if
 * they were ever used. */
static struct io_insn_window window(const uint8_t *before, unsigned nbefore,
				    const uint8_t *after, unsigned nafter)
{
	struct io_insn_window w;

	assert_true(nbefore <= IO_INSN_MAX && nafter <= IO_INSN_MAX);
	memset(w.bytes, 0xee, sizeof(w.bytes));
	w.readable = 0;
	for (unsigned i = 0; i < nbefore; i++) {
		w.bytes[IO_INSN_MAX - nbefore + i] = before[i];
		w.readable |= 1u << (IO_INSN_MAX - nbefore + i);
	}
	for (unsigned i = 0; i < nafter; i++) {
		w.bytes[IO_INSN_MAX + i] = after[i];
		w.readable |= 1u << (IO_INSN_MAX + i);
	}
	return w;
}

#define WINDOW(b, a) window((b), sizeof(b), (a), sizeof(a))

static const struct io_access debug_exit = {.port = 0xf4, .size = 4, .out = true};
static const struct io_access serial_out = {.port = 0x3f8, .size = 1, .out = true};

/* io_insn_find's answer as an offset from RIP (0 at RIP, -n before it), or
 * 1 for "not found". */
static int find(const struct io_insn_window *w, enum io_insn_mode mode, uint64_t rdx,
		const struct io_access *io, struct io_insn *insn)
{
	uint64_t addr = 0xdead;
	struct io_insn scratch;

	if (!io_insn_find(w, RIP, mode, rdx, io, &addr, insn ? insn : &scratch)) {
		assert_int_equal(addr, 0xdead);   /* untouched */
		return 1;
	}
	assert_true(addr <= RIP && RIP - addr <= IO_INSN_MAX);
	return -(int)(RIP - addr);
}

/* platform_exit in the guest: mov esi, edi; mov eax, edi; out 0xf4, eax;
 * mov edi, imm32. */
static const uint8_t exit_before[] = {0x89, 0xfe, 0x89, 0xf8, 0xe7, 0xf4};
static const uint8_t exit_at[] = {0xe7, 0xf4, 0xbf, 0x88, 0xd7, 0x10, 0x00};
static const uint8_t exit_after[] = {0xbf, 0x88, 0xd7, 0x10, 0x00, 0x31, 0xc0};

static void test_at_rip_hardware_kvm(void **state)
{
	static const uint8_t before[] = {0x89, 0xfe, 0x89, 0xf8};
	struct io_insn_window w = WINDOW(before, exit_at);
	struct io_insn insn;

	(void)state;
	assert_int_equal(find(&w, M64, 0, &debug_exit, &insn), 0);
	assert_int_equal(insn.len, 2);
	assert_int_equal(insn.port, 0xf4);
}

static void test_ends_at_rip_pvm(void **state)
{
	struct io_insn_window w = WINDOW(exit_before, exit_after);
	struct io_insn insn;

	(void)state;
	assert_int_equal(find(&w, M64, 0, &debug_exit, &insn), -2);
	assert_true(insn.out);
	assert_int_equal(insn.size, 4);
	assert_int_equal(find(&w, M32, 0, &debug_exit, NULL), -2);
	assert_int_equal(find(&w, M16, 0, &debug_exit, NULL), 1);   /* e7 is 16-bit there */
}

static void test_at_rip_is_preferred(void **state)
{
	/* out dx, al twice in a row: hardware KVM means the one at RIP. */
	static const uint8_t before[] = {0xb0, 0x41, 0xee};
	static const uint8_t after[] = {0xee, 0xc3};
	struct io_insn_window w = WINDOW(before, after);

	(void)state;
	assert_int_equal(find(&w, M64, 0x3f8, &serial_out, NULL), 0);
}

static void test_port_from_dx(void **state)
{
	/* mov edx, 0x3f8; out dx, al | ret */
	static const uint8_t before[] = {0xba, 0xf8, 0x03, 0x00, 0x00, 0xee};
	static const uint8_t after[] = {0xc3};
	struct io_insn_window w = WINDOW(before, after);

	(void)state;
	assert_int_equal(find(&w, M32, 0x3f8, &serial_out, NULL), -1);
	/* Only DX counts, not the rest of RDX. */
	assert_int_equal(find(&w, M64, 0xffffffff000003f8ULL, &serial_out, NULL), -1);
	assert_int_equal(find(&w, M32, 0x3f9, &serial_out, NULL), 1);
	assert_int_equal(find(&w, M32, 0x103f8, &serial_out, NULL), -1);
}

static void test_string_instructions(void **state)
{
	/* mov rcx, rax; mov edx, r10d; rep outsb | add r8, rax */
	static const uint8_t before[] = {0x48, 0x89, 0xc1, 0x44, 0x89, 0xd2, 0xf3, 0x6e};
	static const uint8_t after[] = {0x49, 0x01, 0xc0};
	static const uint8_t at[] = {0xf3, 0x6e, 0x49, 0x01, 0xc0};
	static const uint8_t ins_before[] = {0x66, 0xf3, 0x6d};   /* rep insw */
	static const struct io_access ins_word = {.port = 0x1f0, .size = 2, .out = false};
	struct io_insn_window w = WINDOW(before, after);
	struct io_insn insn;

	(void)state;
	assert_int_equal(find(&w, M64, 0x3f8, &serial_out, &insn), -2);   /* with its rep */
	assert_true(insn.string);
	w = WINDOW(before, at);
	assert_int_equal(find(&w, M64, 0x3f8, &serial_out, NULL), 0);
	w = WINDOW(ins_before, after);
	assert_int_equal(find(&w, M32, 0x1f0, &ins_word, &insn), -3);
	assert_false(insn.out);
}

static void test_prefix_bytes_that_end_the_previous_instruction(void **state)
{
	/* mov edx, esi (89 f2, and f2 is REPNE); in al, dx */
	static const uint8_t in_before[] = {0x89, 0xf2, 0xec};
	/* mov al, 0x41 (ends in a REX byte); out dx, al */
	static const uint8_t rex_before[] = {0xb0, 0x41, 0xee};
	/* mov ax, 0x6626 (ends in 66 26); outsb: 26 and 66 would change nothing */
	static const uint8_t seg_before[] = {0x66, 0xb8, 0x26, 0x66, 0x6c};
	static const uint8_t after[] = {0xc3};
	static const struct io_access serial_in = {.port = 0x3fd, .size = 1, .out = false};
	static const struct io_access ins = {.port = 0x60, .size = 1, .out = false};
	struct io_insn_window w = WINDOW(in_before, after);

	(void)state;
	assert_int_equal(find(&w, M64, 0x3fd, &serial_in, NULL), -1);
	w = WINDOW(rex_before, after);
	assert_int_equal(find(&w, M64, 0x3f8, &serial_out, NULL), -1);
	assert_int_equal(find(&w, M32, 0x3f8, &serial_out, NULL), -1);
	w = WINDOW(seg_before, after);
	assert_int_equal(find(&w, M32, 0x60, &ins, NULL), -1);
}

static void test_operand_size_prefix_decides_the_size(void **state)
{
	/* 66 ef: out dx, ax with 66, out dx, eax without it. */
	static const uint8_t before[] = {0x90, 0x66, 0xef};
	static const uint8_t after[] = {0xc3};
	static const struct io_access word = {.port = 0x70, .size = 2, .out = true};
	static const struct io_access dword = {.port = 0x70, .size = 4, .out = true};
	struct io_insn_window w = WINDOW(before, after);

	(void)state;
	assert_int_equal(find(&w, M32, 0x70, &word, NULL), -2);
	assert_int_equal(find(&w, M32, 0x70, &dword, NULL), -1);
	assert_int_equal(find(&w, M16, 0x70, &dword, NULL), -2);   /* 16-bit: 66 widens */
	assert_int_equal(find(&w, M16, 0x70, &word, NULL), -1);
	/* REX then 66: the REX changes nothing, so 66 ef is the instruction. */
	static const uint8_t rex[] = {0x90, 0x48, 0x66, 0xef};
	w = WINDOW(rex, after);
	assert_int_equal(find(&w, M64, 0x70, &word, NULL), -2);
}

static void test_immediate_that_looks_like_an_opcode(void **state)
{
	/* out 0xee, al | ret: ee alone would be out dx, al. */
	static const uint8_t before[] = {0xe6, 0xee};
	static const uint8_t after[] = {0xc3};
	static const struct io_access port_ee = {.port = 0xee, .size = 1, .out = true};
	struct io_insn_window w = WINDOW(before, after);

	(void)state;
	assert_int_equal(find(&w, M32, 0x3f8, &port_ee, NULL), -2);
	/* The bytes cannot tell: with DX 0x3f8, ee alone fits a serial write. */
	assert_int_equal(find(&w, M32, 0x3f8, &serial_out, NULL), -1);
	assert_int_equal(find(&w, M32, 0xee, &port_ee, NULL), -2);   /* both fit: the longest */
}

static void test_no_match(void **state)
{
	static const uint8_t after[] = {0xc3};
	static const uint8_t in_before[] = {0x90, 0xec};      /* in al, dx */
	static const uint8_t byte_before[] = {0x90, 0xee};    /* out dx, al */
	static const uint8_t imm_before[] = {0x90, 0xe6, 0x80};   /* out 0x80, al */
	static const struct io_access word = {.port = 0x3f8, .size = 2, .out = true};
	static const struct io_access p81 = {.port = 0x81, .size = 1, .out = true};
	struct io_insn_window w;

	(void)state;
	w = WINDOW(in_before, after);
	assert_int_equal(find(&w, M32, 0x3f8, &serial_out, NULL), 1);   /* direction */
	w = WINDOW(byte_before, after);
	assert_int_equal(find(&w, M32, 0x3f8, &word, NULL), 1);         /* size */
	w = WINDOW(imm_before, after);
	assert_int_equal(find(&w, M32, 0x81, &p81, NULL), 1);           /* port */
	w = WINDOW(exit_before, exit_after);
	assert_int_equal(find(&w, M64, 0, &serial_out, NULL), 1);
}

static void test_io_bytes_that_do_not_end_at_rip(void **state)
{
	/* out 0xf4, eax; nop | ...: it ends one byte before RIP. */
	static const uint8_t before[] = {0xe7, 0xf4, 0x90};
	/* out 0xf4, eax straddling RIP: e7 | f4. */
	static const uint8_t half[] = {0x89, 0xf8, 0xe7};
	static const uint8_t half_after[] = {0xf4, 0x90};
	struct io_insn_window w = WINDOW(before, exit_after);

	(void)state;
	assert_int_equal(find(&w, M64, 0, &debug_exit, NULL), 1);
	w = WINDOW(half, half_after);
	assert_int_equal(find(&w, M64, 0, &debug_exit, NULL), 1);
}

static void test_unreadable_bytes(void **state)
{
	static const uint8_t nothing[] = {0};
	struct io_insn_window w = window(exit_before, sizeof(exit_before), nothing, 0);
	struct io_insn_window none = window(nothing, 0, nothing, 0);
	static const uint8_t rep_outsb[] = {0xf3, 0x6e};

	(void)state;
	/* Code at RIP unreadable (next page unmapped): the one before is found. */
	assert_int_equal(find(&w, M64, 0, &debug_exit, NULL), -2);
	/* Code before RIP unreadable (previous page unmapped). */
	w = window(nothing, 0, exit_at, sizeof(exit_at));
	assert_int_equal(find(&w, M64, 0, &debug_exit, NULL), 0);
	w = window(nothing, 0, exit_after, sizeof(exit_after));
	assert_int_equal(find(&w, M64, 0, &debug_exit, NULL), 1);
	/* Only the last byte before RIP readable: the REP is not seen. */
	w = window(rep_outsb + 1, 1, exit_after, sizeof(exit_after));
	assert_int_equal(find(&w, M64, 0x3f8, &serial_out, NULL), -1);
	/* A hole: the readable byte right before RIP is f4, e7 lies in the hole. */
	w = window(exit_before, sizeof(exit_before), exit_after, sizeof(exit_after));
	w.readable &= ~(1u << (IO_INSN_MAX - 2));
	assert_int_equal(find(&w, M64, 0, &debug_exit, NULL), 1);
	/* At RIP, an instruction cut short by the end of what is readable. */
	w = window(nothing, 0, exit_at, 1);
	assert_int_equal(find(&w, M64, 0, &debug_exit, NULL), 1);
	assert_int_equal(find(&none, M64, 0, &debug_exit, NULL), 1);
}

static void test_rip_near_zero(void **state)
{
	static const uint8_t before[] = {0xee};
	static const uint8_t after[] = {0x90};
	struct io_insn_window w = WINDOW(before, after);
	uint64_t addr = 0;
	struct io_insn insn;

	(void)state;
	assert_true(io_insn_find(&w, 1, M16, 0x3f8, &serial_out, &addr, &insn));
	assert_int_equal(addr, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_every_form),
		cmocka_unit_test(test_at_rip_hardware_kvm),
		cmocka_unit_test(test_ends_at_rip_pvm),
		cmocka_unit_test(test_at_rip_is_preferred),
		cmocka_unit_test(test_port_from_dx),
		cmocka_unit_test(test_string_instructions),
		cmocka_unit_test(test_prefix_bytes_that_end_the_previous_instruction),
		cmocka_unit_test(test_operand_size_prefix_decides_the_size),
		cmocka_unit_test(test_immediate_that_looks_like_an_opcode),
		cmocka_unit_test(test_no_match),
		cmocka_unit_test(test_io_bytes_that_do_not_end_at_rip),
		cmocka_unit_test(test_unreadable_bytes),
		cmocka_unit_test(test_rip_near_zero),
	};

	return cmocka_run_group_tests_name("io_insn", tests, NULL, NULL);
}
