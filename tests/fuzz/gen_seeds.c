/*
 * gen_seeds.c - writes the fuzzers' seed corpora under DIR:
 *   DIR/loader   multiboot images from elf_builder.h (ELF32, ELF64,
 *                higher-half, a.out kludge, bss, many segments)
 *   DIR/json     result lines (the schema example, escapes, nesting)
 *   DIR/options  command lines, one argv word per line
 *   DIR/virtqueue  a virtio-blk queue with IN, OUT and FLUSH requests
 *   DIR/pci_testdev  kvm-unit-tests' pci-testdev run, and a BAR move
 *   DIR/pci_config  enumeration, BAR sizing and moves, the virtio window
 *   DIR/virtio_pci  a driver's set-up and a read request; a reset mid-set-up
 *   DIR/devices  console output, PCI enumeration, a virtio-blk read through
 *                MMIO and the doorbell, the pci-testdev, rep outs, stray ports
 *   DIR/disas    a crash dump's request (RIP past an out, as PVM leaves it)
 *                and a --trace line's
 * The test target adds build/guest.elf to DIR/loader when it exists.
 */
#include "disas.h"
#include "elf_builder.h"
#include "le.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char *dir;

static void make_dir(const char *sub)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s%s%s", dir, sub[0] ? "/" : "", sub);
	if (mkdir(path, 0755) && errno != EEXIST) {
		perror(path);
		exit(1);
	}
}

static void put(const char *sub, const char *name, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f)) {
		perror(path);
		exit(1);
	}
}

static void put_image(const char *name, struct image *img)
{
	put("loader", name, img->data, img->size);
	image_free(img);
}

static void put_text(const char *sub, const char *name, const char *text)
{
	put(sub, name, text, strlen(text));
}

static void loader_seeds(void)
{
	struct image img;

	for (int is64 = 0; is64 <= 1; is64++) {
		struct image_spec s = {
			.elf64 = is64, .entry = 0x100010, .nsegs = 2,
			.seg = {{.paddr = 0x100000, .filesz = 0x200},
				{.paddr = 0x200000, .filesz = 0x40, .memsz = 0x1000}},
			.mb_flags = MB_PAGE_ALIGN | MB_MEMORY_INFO,
		};
		image_build(&s, &img);
		put_image(is64 ? "elf64" : "elf32", &img);

		uint64_t vbase = is64 ? 0xffffffff80000000ULL : 0xc0000000ULL;
		s.seg[0].vaddr = vbase + 0x100000;
		s.seg[1].vaddr = vbase + 0x200000;
		s.entry = vbase + 0x100020;
		image_build(&s, &img);
		put_image(is64 ? "elf64-higher-half" : "elf32-higher-half", &img);

		struct image_spec many = {.elf64 = is64, .entry = 0x100000, .nsegs = 6,
					  .mb_flags = MB_PAGE_ALIGN};
		for (unsigned i = 0; i < many.nsegs; i++)
			many.seg[i] = (struct seg_spec){.paddr = 0x100000 + i * 0x1000,
							.filesz = 0x20, .memsz = 0x800};
		many.seg[5].type = PT_NOTE;
		image_build(&many, &img);
		put_image(is64 ? "elf64-segments" : "elf32-segments", &img);
	}
	struct aout_spec a = {.load_addr = 0x100000, .header_offset = 0x20,
			      .file_size = 0x400, .bss = 0x1000, .entry_offset = 0x60};
	image_build_aout(&a, &img);
	put_image("aout", &img);
}

static void json_seeds(void)
{
	put_text("json", "schema",
		 "{\"schema\": \"vmbench.result/1\", \"test\": \"cpu\", \"platform\": \"vmm\", "
		 "\"options\": {\"cpu-max-prime\": 20000, \"threads\": 2, \"time\": 10}, "
		 "\"threads\": 2, \"total_time_s\": 10.0002, \"events\": 28540, "
		 "\"latency_ms\": {\"min\": 0.69, \"avg\": 0.70, \"max\": 1.31, \"percentile\": 95}, "
		 "\"env\": {\"vcpus\": 2, \"hypervisor\": \"KVMKVMKVM\", \"tsc_hz\": 2450000000}}");
	put_text("json", "empty", "{}");
	put_text("json", "literals", " {\"t\":true,\"f\":false,\"n\":null,\"a\":[1,-2.5e3,[]]}\r\n");
	put_text("json", "escapes", "{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9 caf\xc3\xa9 \xf0\x9f\x98\x80\"}");
	put_text("json", "nested", "{\"a\":{\"b\":{\"c\":{\"d\":[[[{\"e\":0}]]]}}}}");
}

static void options_seeds(void)
{
	put_text("options", "benchmark",
		 "--smp\n2\n--mem\n2G\nguest.elf\ncpu\n--cpu-max-prime=20000\n--threads=2");
	put_text("options", "pin", "-c\n4\n--pin=0-2,5\n-m\n512MiB\n--\ng.elf\ninfo");
	put_text("options", "placement",
		 "-c\n2\n--pin\n0,1\n--io-pin=1\n--rt\n--rt=50\n--mlock\ng.elf\ninfo");
	put_text("options", "flags",
		 "--timeout\n1.5\n--json\nout.json\n--stats\n--trace\n--hugepages\n-s\ng\nrun");
	put_text("options", "short", "-c2\n-m64\n-t\n30\n-jx\ng");
	put_text("options", "help", "--help");
	put_text("options", "check", "--check");
	put_text("options", "disk", "--disk\nx.img,direct\n-d\ny,readonly,format=raw\n--disk=z\ng");
}

/* fuzz_virtqueue's input: 6 bytes of queue set-up (size 16, descriptors
 * at 0, avail ring at 0x1000, used ring at 0x2000), then guest RAM. */
static void virtqueue_seeds(void)
{
	static uint8_t in[6 + 0x3400];
	uint8_t *ram = in + 6;
	static const uint32_t types[3] = {0, 1, 4};

	in[0] = 4;
	in[1] = 0;
	in[2] = 0x1000 / 64;
	in[3] = 0x2000 / 128;
	for (unsigned r = 0; r < 3; r++) {
		uint8_t *d = ram + 16 * (3 * r);
		uint64_t hdr = 0x3000 + 0x100 * r;

		le_put(d, 8, hdr);
		le_put(d + 8, 4, 16);
		le_put(d + 12, 2, 1);
		le_put(d + 14, 2, 3 * r + 1);
		le_put(d + 16, 8, 0x3000 + 0x400);
		le_put(d + 24, 4, types[r] == 4 ? 0 : 512);
		le_put(d + 28, 2, types[r] == 1 ? 1 : 3);
		le_put(d + 30, 2, 3 * r + 2);
		le_put(d + 32, 8, 0x3300 + r);
		le_put(d + 40, 4, 1);
		le_put(d + 44, 2, 2);
		le_put(ram + 0x1000 + 4 + 2 * r, 2, 3 * r);
		le_put(ram + hdr, 4, types[r]);
		le_put(ram + hdr + 8, 8, r);
	}
	le_put(ram + 0x1000 + 2, 2, 3);
	put("virtqueue", "three-requests", in, sizeof(in));
}

/* fuzz_pci_testdev's operations, 12 bytes each: kind (0 memory BAR,
 * 1 I/O BAR, 2 configuration write, 3 fake KVM), flags (bit 0 write, bits
 * 2:1 size 1/2/4/8), offset (le16), value (le64). */
static unsigned testdev_op(uint8_t *p, unsigned kind, bool write, unsigned size_code,
			   unsigned off, uint64_t value)
{
	p[0] = (uint8_t)kind;
	p[1] = (uint8_t)(write | size_code << 1);
	le_put(p + 2, 2, off);
	le_put(p + 4, 8, value);
	return 12;
}

static void pci_testdev_seeds(void)
{
	static uint8_t in[12 * 200];
	unsigned n = 0;

	/* kvm-unit-tests' pci_testdev(): each test of each BAR, 16 writes. */
	for (unsigned kind = 0; kind < 2; kind++)
		for (unsigned t = 0; t < 4; t++) {
			unsigned off = (kind ? 128 : 2048) + kind * 3 + t;

			n += testdev_op(in + n, kind, true, 0, 0, t);
			n += testdev_op(in + n, kind, false, 2, 12, 0);
			n += testdev_op(in + n, kind, false, 0, 1, 0);
			n += testdev_op(in + n, kind, false, 2, 8, 0);
			n += testdev_op(in + n, kind, false, 2, 4, 0);
			for (unsigned w = 0; w < 16; w++)
				n += testdev_op(in + n, kind, true, 0, off, t == 1 ? 0xce : 0xfa);
			n += testdev_op(in + n, 3, false, 0, kind * 3 + t, 16);
			n += testdev_op(in + n, kind, false, 2, 12, 0);
		}
	put("pci_testdev", "kvm-unit-tests", in, n);
	/* A wildcard test, then its BAR moved and decoding switched. */
	n = 0;
	n += testdev_op(in + n, 0, true, 0, 0, 1);
	n += testdev_op(in + n, 2, true, 2, 0x10, 0xd0000000u);
	n += testdev_op(in + n, 0, true, 0, 2049, 0x11);
	n += testdev_op(in + n, 2, true, 1, 0x04, 0x1);
	n += testdev_op(in + n, 2, true, 1, 0x04, 0x3);
	n += testdev_op(in + n, 1, true, 0, 0, 2);
	n += testdev_op(in + n, 2, true, 2, 0x14, 0xd001);
	n += testdev_op(in + n, 1, false, 2, 12, 0);
	put("pci_testdev", "bar-move", in, n);
}

/* ---- the guest-facing targets: fuzz_pci_config, fuzz_virtio_pci, fuzz_devices ---- */

/* A growing input of fixed-size operations. */
struct ops {
	uint8_t buf[12 * 512];
	unsigned n, width;
};

static uint8_t *op_new(struct ops *o)
{
	uint8_t *p = o->buf + o->n;

	memset(p, 0, o->width);
	o->n += o->width;
	return p;
}

static void put_ops(const char *sub, const char *name, struct ops *o)
{
	put(sub, name, o->buf, o->n);
	o->n = 0;
}

/* fuzz_pci_config: 8 bytes: kind | write << 2 | size code << 3 (1, 2, 4)
 * | BAR access width - 1 << 5, selector, register/offset (le16), value. */
static void pc_op(struct ops *o, unsigned kind, bool write, unsigned size_code, uint8_t sel,
		  unsigned off, uint32_t value)
{
	uint8_t *p = op_new(o);

	p[0] = (uint8_t)(kind | write << 2 | size_code << 3 | 3u << 5);
	p[1] = sel;
	le_put(p + 2, 2, off);
	le_put(p + 4, 4, value);
}

/* The virtio function's capabilities as virtio_pci_init lays them out:
 * common 0x40, notify 0x50, ISR 0x64, device 0x74, PCI-config window
 * 0x84 (bar +4, offset +8, length +12, data +16), MSI-X 0x98. */
#define SEED_VIRTIO_WINDOW 0x84
#define SEED_VIRTIO_MSIX 0x98

static void pci_config_seeds(void)
{
	struct ops o = {.width = 8};

	/* A guest's scan: IDs, header, BARs, capability list, every slot. */
	for (unsigned slot = 0; slot < 4; slot++)
		for (unsigned reg = 0; reg < 0x40; reg += 4)
			pc_op(&o, 1, false, 2, (uint8_t)slot, reg, 0);
	pc_op(&o, 1, false, 0, 1, 0x34, 0);
	pc_op(&o, 1, false, 1, 1, 0x06, 0);
	put_ops("pci_config", "enumerate", &o);

	/* Firmware's sizing of every BAR, then moves and decoding switched. */
	for (unsigned f = 0; f < 2; f++)
		for (unsigned bar = 0; bar < 6; bar++)
			pc_op(&o, 3, false, 0, (uint8_t)(f | bar << 1), 0, 1);
	pc_op(&o, 1, true, 2, 1, 0x10, 0xd0000000u);
	pc_op(&o, 2, true, 0, 0, 0x3000, 0x1);
	pc_op(&o, 1, true, 1, 2, 0x04, 0x0);
	pc_op(&o, 2, false, 0, 1, 0x10, 0);
	pc_op(&o, 1, true, 1, 2, 0x04, 0x3);
	pc_op(&o, 1, true, 2, 2, 0x14, 0xd100);
	pc_op(&o, 2, false, 0, 3, 0x10, 0);
	pc_op(&o, 3, false, 0, 0, 0, 0);
	put_ops("pci_config", "size-and-move", &o);

	/* The virtio PCI-config window: status through config space. */
	pc_op(&o, 1, true, 0, 1, SEED_VIRTIO_WINDOW + 4, 0);
	pc_op(&o, 1, true, 2, 1, SEED_VIRTIO_WINDOW + 8, 0x14);
	pc_op(&o, 1, true, 2, 1, SEED_VIRTIO_WINDOW + 12, 1);
	pc_op(&o, 1, true, 0, 1, SEED_VIRTIO_WINDOW + 16, 0x3);
	pc_op(&o, 1, false, 2, 1, SEED_VIRTIO_WINDOW + 16, 0);
	pc_op(&o, 1, true, 2, 1, SEED_VIRTIO_WINDOW + 8, 0x1000);
	pc_op(&o, 1, false, 0, 1, SEED_VIRTIO_WINDOW + 16, 0);
	pc_op(&o, 1, true, 1, 1, SEED_VIRTIO_MSIX + 2, 0xc000);
	pc_op(&o, 1, true, 1, 1, SEED_VIRTIO_MSIX + 2, 0x8000);
	pc_op(&o, 0, true, 0, 0, 0, 0x80000800u);
	pc_op(&o, 0, false, 0, 4, 0, 0);
	pc_op(&o, 0, false, 0, 1, 0, 0);
	put_ops("pci_config", "virtio-window", &o);
}

/* fuzz_virtio_pci and fuzz_devices: 12 bytes: kind | write << 3 | code << 4
 * (virtio_pci: size - 1 << 5), selector, offset (le16), 8 bytes of data. */
static uint8_t *op12(struct ops *o, uint8_t kind, uint8_t sel, unsigned off, uint64_t data)
{
	uint8_t *p = op_new(o);

	p[0] = kind;
	p[1] = sel;
	le_put(p + 2, 2, off);
	le_put(p + 4, 8, data);
	return p;
}

/* One virtio-blk IN request (descriptors at 0x1000, queue size 16, avail
 * ring at 0x1100, used ring at 0x1128), as RAM writes of `ram_kind`. */
static void blk_request(struct ops *o, uint8_t ram_kind, uint32_t type)
{
	static const uint64_t ram[][2] = {
		{0x1000, 0x4000}, {0x1008, 16 | 1ull << 32}, {0x100c, 1 | 1ull << 16},
		{0x1010, 0x5000}, {0x1018, 512 | 3ull << 32}, {0x101c, 3 | 2ull << 16},
		{0x1020, 0x6000}, {0x1028, 1 | 2ull << 32},
		{0x1100, 1ull << 16}, {0x4000, 0}, {0x4008, 0},
	};

	for (unsigned i = 0; i < sizeof(ram) / sizeof(ram[0]); i++)
		op12(o, ram_kind, 0, (unsigned)ram[i][0], ram[i][0] == 0x4000 ? type : ram[i][1]);
}

static void virtio_pci_seeds(void)
{
	struct ops o = {.width = 12};
	uint8_t *p;

	/* The whole set-up, all features, 16 entries at 0x1000 ... */
	p = op12(&o, 7, 0x87, 0, ~0ull);
	p[2] = 4;
	p[3] = 1;
	/* ... a read, the doorbell, the ISR, MSI-X on. */
	blk_request(&o, 3, 0);
	op12(&o, 0 | 8 | 1 << 5, 3, 0, 0);
	op12(&o, 0 | 3 << 5, 1, 0, 0);
	op12(&o, 4 | 1 << 3, 1, 0, 0x8000);
	op12(&o, 0 | 8 | 7 << 5, 4, 16, 0xfee00000u);
	op12(&o, 0 | 8 | 3 << 5, 4, 28, 0);
	op12(&o, 0 | 8 | 1 << 5, 3, 0, 0);
	op12(&o, 5, 0x80, 0, 0);
	op12(&o, 6, 0, 0, 0);
	op12(&o, 0 | 7 << 5, 5, 0, 0);
	put_ops("virtio_pci", "setup-and-read", &o);

	/* Set-up stopped at each step, reset in the middle, and again. */
	for (unsigned stop = 0; stop < 8; stop++) {
		p = op12(&o, 7, (uint8_t)stop, 0, ~0ull);
		p[2] = (uint8_t)stop;
		op12(&o, 0 | 8, 0, 0x14, 0);
	}
	op12(&o, 0 | 8 | 1 << 5, 0, 0x16, 5);
	op12(&o, 0 | 8 | 7 << 5, 0, 0x20, 0x12345);
	op12(&o, 0 | 8, 0, 0x14, 0x8f);
	op12(&o, 6, 1, 0, 0);
	op12(&o, 0, 0, 0x14, 0);
	put_ops("virtio_pci", "reset-mid-setup", &o);
}

/* fuzz_buffer_console: 12 bytes: kind (0 RAM, 1 descriptor, 2 port), flags,
 * offset (le16), 8 bytes of data. */
static void buffer_console_seeds(void)
{
	struct ops o = {.width = 12};

	/* "hello\n" at 0x100, its descriptor at 0x40, written to the port. */
	op12(&o, 0, 0, 0x100, 0x0a6f6c6c6568ull);
	op12(&o, 1, 2, 0x40, 0x100 | 6ull << 32);
	op12(&o, 2, 0x10 | 2, 0x40, 0);
	/* The buffer in high RAM, across its end, and a length near 2^64. */
	op12(&o, 1, 1 | 2, 0x80, 0x7ffc | 16ull << 32);
	op12(&o, 2, 0x10 | 2, 0x80, 0);
	op12(&o, 1, 4, 0xc0, 0x100);
	op12(&o, 2, 0x10 | 2, 0xc0, 0);
	/* Wrong widths and offsets, a descriptor outside RAM. */
	op12(&o, 2, 0x10 | 0, 0x40, 0);
	op12(&o, 2, 0x10 | 1, 0x40, 0);
	op12(&o, 2, 0x10 | 2 | 1 << 2, 0x40, 0);
	op12(&o, 2, 2, 0, 0xfffffff8u);
	put_ops("buffer_console", "descriptors", &o);
}

/* fuzz_devices picks port regions in registration order: debug-exit and
 * the serial port come first (VMM_INIT_CORE, link order). */
#define SEED_DEBUG_EXIT 0
#define SEED_SERIAL 1

static void devices_seeds(void)
{
	struct ops o = {.width = 12};
	static const char hello[] = "VMBENCH-RESULT {}\n";

	/* Console output, a byte at a time and as rep outsb; divisor latch. */
	for (unsigned i = 0; i + 1 < sizeof(hello); i++)
		op12(&o, 0 | 8, SEED_SERIAL, 0, (uint8_t)hello[i]);
	op12(&o, 0 | 8, SEED_SERIAL, 3, 0x80);
	op12(&o, 0 | 8, SEED_SERIAL, 0, 0x0c);
	op12(&o, 0 | 8, SEED_SERIAL, 3, 0x03);
	uint8_t *p = op12(&o, 2 | 8, SEED_SERIAL, 0, 0x0a6f6c6c6568ull);
	p[11] = 6;
	op12(&o, 0 | 8, SEED_DEBUG_EXIT, 0, 7);
	put_ops("devices", "console", &o);

	/* PCI enumeration through the latch and the data port. */
	for (unsigned dev = 0; dev < 4; dev++)
		for (unsigned reg = 0; reg < 0x40; reg += 4)
			op12(&o, 6 | 2 << 4, (uint8_t)(dev << 3), reg, 0);
	put_ops("devices", "enumerate", &o);

	/* The disk: driver set-up through MMIO at its BAR (selector 0), a
	 * read request, the doorbell (KVM's ioeventfd), the I/O thread. */
	static const struct { unsigned off, size; uint64_t v; } setup[] = {
		{0x14, 1, 1}, {0x14, 1, 3}, {0x08, 4, 0}, {0x0c, 4, 0x244},
		{0x08, 4, 1}, {0x0c, 4, 1}, {0x14, 1, 11}, {0x16, 2, 0}, {0x18, 2, 16},
		{0x20, 8, 0x1000}, {0x28, 8, 0x1100}, {0x30, 8, 0x1128}, {0x1a, 2, 0},
		{0x1c, 2, 1}, {0x14, 1, 15}, {0x4000, 8, 0xfee00000u}, {0x4008, 8, 0x41},
	};
	for (unsigned i = 0; i < sizeof(setup) / sizeof(setup[0]); i++)
		op12(&o, (uint8_t)(3 | 8 | (setup[i].size - 1) << 4), 0, setup[i].off, setup[i].v);
	/* MSI-X on (its control word is the top half of the capability's
	 * first dword): completions then raise vector 0. */
	op12(&o, 6 | 8 | 2 << 4, 1 << 3, SEED_VIRTIO_MSIX, 0x80000000u);
	blk_request(&o, 5, 0);
	op12(&o, 3 | 8 | 1 << 4, 0, 0x3000, 0);
	op12(&o, 7, 0, 0, 0);
	op12(&o, 3, 0, 0x1000, 0);
	blk_request(&o, 5, 1);
	op12(&o, 3 | 8 | 1 << 4, 0, 0x3000, 0);
	op12(&o, 7, 0, 1, 0);
	op12(&o, 0 | 8, SEED_DEBUG_EXIT, 0, 0);
	put_ops("devices", "virtio-blk", &o);

	/* The pci-testdev: each test through its memory and I/O BARs. */
	for (unsigned t = 0; t < 3; t++) {
		op12(&o, 3 | 8, 1, 0, t);
		op12(&o, 3 | 8, 1, 2048 + t, 0xfa);
		op12(&o, 3 | 3 << 4, 1, 12, 0);
		op12(&o, 0 | 8, 0xc0, 0, t);
		op12(&o, 0 | 8, 0xc0, 128 + 3 + t, 0xfa);
		op12(&o, 0 | 2 << 4, 0xc0, 12, 0);
	}
	put_ops("devices", "testdev", &o);

	/* The buffer console (selector 0xe0: the port as given): "hi\n" at
	 * 0x300 through a descriptor at 0x200, then a bad one. */
	op12(&o, 5, 0, 0x300, 0x0a6968);
	op12(&o, 5, 0, 0x200, 0x300);
	op12(&o, 5, 0, 0x208, 3);
	op12(&o, 0 | 8 | 2 << 4, 0xe0, 0x4f8, 0x200);
	op12(&o, 5, 0, 0x208, ~0ull);
	op12(&o, 0 | 8 | 2 << 4, 0xe0, 0x4f8, 0x200);
	put_ops("devices", "buffer-console", &o);

	/* A port no device has: vmm stops the guest. */
	op12(&o, 0, 0xff, 0x80, 0);
	put_ops("devices", "stray-port", &o);
}

/* fuzz_disas's input: the request's bytes, then the text buffer's size. */
static void disas_seeds(void)
{
	uint8_t in[sizeof(struct disas_request) + 1];
	struct disas_request req = {.mode = IO_INSN_32, .len = 9, .addr = 0x100000,
				    .rip = 0x100008, .io_at = 0x100007,
				    .code = {0xbe, 0x99, 0, 0, 0, 0x89, 0xf2, 0xee, 0xf4}};

	memcpy(in, &req, sizeof(req));
	in[sizeof(req)] = 255;
	put("disas", "dump", in, sizeof(in));
	req = (struct disas_request){.one = 1, .mode = IO_INSN_64, .len = 2, .addr = 0x103fa8,
				     .rip = 0x103fa8, .io_at = 0x103fa8, .code = {0xe4, 0x99}};
	memcpy(in, &req, sizeof(req));
	put("disas", "trace", in, sizeof(in));
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	make_dir("");
	make_dir("loader");
	make_dir("json");
	make_dir("options");
	make_dir("virtqueue");
	make_dir("pci_testdev");
	make_dir("pci_config");
	make_dir("virtio_pci");
	make_dir("devices");
	make_dir("buffer_console");
	make_dir("disas");
	loader_seeds();
	json_seeds();
	options_seeds();
	virtqueue_seeds();
	pci_testdev_seeds();
	pci_config_seeds();
	virtio_pci_seeds();
	devices_seeds();
	buffer_console_seeds();
	disas_seeds();
	return 0;
}
