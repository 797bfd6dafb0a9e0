/*
 * kvm.c - talking to /dev/kvm: open it, check every capability vmm relies
 * on (one named error each, as kvmtool does), create the VM with the
 * in-kernel irqchip and PIT, and create vCPUs in the Multiboot entry state.
 */
#include "vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define KVM_DEVICE "/dev/kvm"
/* Three pages just below the BIOS ROM that Intel VMX needs for real mode
 * (TSS) and its identity map; guest RAM never reaches them. */
#define KVM_TSS_GPA 0xfffbd000ULL
#define KVM_IDENTITY_MAP_GPA 0xfffbc000ULL

struct required_cap {
	int cap;
	const char *name;
	const char *why;
};

static const struct required_cap required_caps[] = {
	{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", "guest RAM from host memory"},
	{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", "in-kernel LAPIC, IOAPIC and PIC"},
	{KVM_CAP_PIT2, "KVM_CAP_PIT2", "in-kernel PIT"},
	{KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR", "real-mode support on Intel"},
	{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", "the CPUID table"},
	{KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE", "APs started by INIT-SIPI-SIPI"},
	{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", "stopping vCPUs cleanly"},
	{KVM_CAP_GET_TSC_KHZ, "KVM_CAP_GET_TSC_KHZ", "telling the guest its TSC frequency"},
	/* Checked always, not only with --disk: KVM has had all three since
	 * Linux 2.6.3x, and one list keeps `vmm --check` a full answer. */
	{KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD", "virtio-blk doorbells without exits"},
	{KVM_CAP_IRQFD, "KVM_CAP_IRQFD", "virtio-blk completion interrupts"},
	{KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING", "MSI-X interrupts of PCI devices"},
};

void kvm_explain_open_error(int err, bool kvm_module_loaded, char *errbuf, size_t errlen)
{
	switch (err) {
	case ENOENT:
		if (kvm_module_loaded)
			snprintf(errbuf, errlen,
				 KVM_DEVICE " does not exist although the kvm module is loaded: "
				 "no kvm_intel/kvm_amd driver bound, so this CPU offers no "
				 "VT-x/AMD-V (off in the firmware, or a VM without nested "
				 "virtualization)");
		else
			snprintf(errbuf, errlen,
				 KVM_DEVICE " does not exist: load the kvm module "
				 "(modprobe kvm_intel or kvm_amd) or enable virtualization "
				 "in the firmware");
		break;
	case EACCES:
	case EPERM:
		snprintf(errbuf, errlen,
			 "permission denied opening " KVM_DEVICE ": join its group "
			 "(usermod -aG kvm $USER, then log in again) or run as root");
		break;
	case ENODEV:
	case ENXIO:
		snprintf(errbuf, errlen,
			 KVM_DEVICE " exists but no KVM driver answers (%s): this machine "
			 "offers no hardware virtualization to KVM", strerror(err));
		break;
	default:
		snprintf(errbuf, errlen, "cannot open " KVM_DEVICE ": %s", strerror(err));
	}
}

int kvm_open(int *kvm_fd, unsigned *max_vcpus, char *errbuf, size_t errlen)
{
	int fd = open(KVM_DEVICE, O_RDWR | O_CLOEXEC);
	int version, n;

	if (fd < 0) {
		int err = errno;
		struct stat st;

		kvm_explain_open_error(err, stat("/sys/module/kvm", &st) == 0, errbuf, errlen);
		return -1;
	}
	version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		snprintf(errbuf, errlen, "KVM API version %d, vmm needs %d", version,
			 KVM_API_VERSION);
		close(fd);
		return -1;
	}
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		if (ioctl(fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
			snprintf(errbuf, errlen, "KVM lacks %s, which vmm needs for %s",
				 required_caps[i].name, required_caps[i].why);
			close(fd);
			return -1;
		}
	}
	n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (n <= 0)
		n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	*max_vcpus = n > 0 ? (unsigned)n : 4;   /* KVM's documented default */
	*kvm_fd = fd;
	return 0;
}

int kvm_create_vm(struct vm *vm, char *errbuf, size_t errlen)
{
	struct kvm_pit_config pit = {.flags = 0};

	kvm_kind_host(&vm->kvm_kind);   /* /dev/kvm is open: refcnts tell */
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		snprintf(errbuf, errlen, "KVM_CREATE_VM failed: %s", strerror(errno));
		return -1;
	}
	/* Guest RAM's slots first, before anything else of the VM's: created
	 * after KVM_CREATE_IRQCHIP, the first slot's SRCU grace period took
	 * 6-8 ms on PVM-style KVM, before it 1.1-1.5 ms (a test program, 4
	 * runs each); the PIC's and PIT's bus devices then register quickly. */
	for (unsigned i = 0; i < vm->mem.nregions; i++) {
		const struct mem_region *r = &vm->mem.regions[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uintptr_t)r->hva,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0) {
			snprintf(errbuf, errlen, "KVM_SET_USER_MEMORY_REGION (%llu MiB at 0x%llx) "
				 "failed: %s", (unsigned long long)(r->size / MIB),
				 (unsigned long long)r->gpa, strerror(errno));
			return -1;
		}
	}
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_GPA) < 0) {
		snprintf(errbuf, errlen, "KVM_SET_TSS_ADDR failed: %s", strerror(errno));
		return -1;
	}
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0) {
		uint64_t addr = KVM_IDENTITY_MAP_GPA;

		if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &addr) < 0) {
			snprintf(errbuf, errlen, "KVM_SET_IDENTITY_MAP_ADDR failed: %s",
				 strerror(errno));
			return -1;
		}
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		snprintf(errbuf, errlen, "KVM_CREATE_IRQCHIP failed: %s", strerror(errno));
		return -1;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		snprintf(errbuf, errlen, "KVM_CREATE_PIT2 failed: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* The state GRUB leaves a Multiboot kernel in: flat 32-bit protected mode,
 * paging off, interrupts off, EAX = magic, EBX = information. */
static int set_multiboot_entry_state(struct vcpu *vcpu, char *errbuf, size_t errlen)
{
	const struct boot_entry *boot = &vcpu->vm->boot;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = 0x08,
		.type = 0xb, .present = 1, .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1,
	};
	struct kvm_segment data = code;

	data.selector = 0x10;
	data.type = 0x3;

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0) {
		snprintf(errbuf, errlen, "KVM_GET_SREGS failed: %s", strerror(errno));
		return -1;
	}
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.cr0 = 0x11;  /* PE | ET */
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0) {
		snprintf(errbuf, errlen, "KVM_SET_SREGS failed: %s", strerror(errno));
		return -1;
	}
	memset(&regs, 0, sizeof(regs));
	regs.rip = boot->entry;
	regs.rax = 0x2badb002;
	regs.rbx = boot->info_gpa;
	regs.rflags = 0x2;
	if (ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0) {
		snprintf(errbuf, errlen, "KVM_SET_REGS failed: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* LINT0 as ExtINT and LINT1 as NMI on the BSP: the "virtual wire" setup a
 * PC BIOS leaves behind, which an OS may expect. */
static int set_bsp_lapic_lints(struct vcpu *vcpu, char *errbuf, size_t errlen)
{
	struct kvm_lapic_state lapic;
	uint32_t lint0 = 0x700, lint1 = 0x400; /* delivery modes ExtINT, NMI */

	if (ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic) < 0) {
		snprintf(errbuf, errlen, "KVM_GET_LAPIC failed: %s", strerror(errno));
		return -1;
	}
	memcpy(&lapic.regs[0x350], &lint0, 4);
	memcpy(&lapic.regs[0x360], &lint1, 4);
	if (ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic) < 0) {
		snprintf(errbuf, errlen, "KVM_SET_LAPIC failed: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int kvm_create_vcpu(struct vm *vm, struct vcpu *vcpu, char *errbuf, size_t errlen)
{
	int size;

	vcpu->vm = vm;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)vcpu->index);
	if (vcpu->fd < 0) {
		snprintf(errbuf, errlen, "KVM_CREATE_VCPU %u failed: %s", vcpu->index,
			 strerror(errno));
		return -1;
	}
	size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(struct kvm_run)) {
		snprintf(errbuf, errlen, "KVM_GET_VCPU_MMAP_SIZE failed: %s", strerror(errno));
		return -1;
	}
	vcpu->run_size = (size_t)size;
	vcpu->run = mmap(NULL, vcpu->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		vcpu->run = NULL;
		snprintf(errbuf, errlen, "cannot map the kvm_run area of vCPU %u: %s",
			 vcpu->index, strerror(errno));
		return -1;
	}
	if (vcpu->index == 0) {
		int khz = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);

		if (khz <= 0) {
			snprintf(errbuf, errlen, "KVM_GET_TSC_KHZ failed: %s", strerror(errno));
			return -1;
		}
		vm->tsc_khz = (uint32_t)khz;
	}
	if (cpuid_setup(vm, vcpu, errbuf, errlen))
		return -1;
	/* Only the BSP starts running; KVM keeps the APs waiting for the
	 * guest's INIT-SIPI-SIPI. */
	if (vcpu->index == 0) {
		if (set_multiboot_entry_state(vcpu, errbuf, errlen) ||
		    set_bsp_lapic_lints(vcpu, errbuf, errlen))
			return -1;
	}
	return 0;
}

int kvm_check(FILE *out, char *errbuf, size_t errlen)
{
	struct kvm_kind_info kind;
	struct kvm_cpuid2 *supported = NULL;
	enum nested_virt nested = NESTED_NONE;
	char what[256], level[128];
	unsigned max_vcpus;
	int kvm_fd, vm_fd, vcpu_fd, khz;

	if (kvm_open(&kvm_fd, &max_vcpus, errbuf, errlen))
		return -1;
	kvm_kind_host(&kind);
	kvm_kind_describe(&kind, what, sizeof(what));
	kvm_virt_describe(&kind, level, sizeof(level));
	/* What --nested would offer; not knowing is no reason to fail. */
	char ignored[128];   /* not errbuf: --check goes on and succeeds */

	if (cpuid_fetch_supported(kvm_fd, &supported, ignored, sizeof(ignored)) == 0) {
		nested = nested_virt_offered(supported);
		free(supported);
	}
	/* Creating a VM and a vCPU is what fails on some half-working hosts. */
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0) {
		snprintf(errbuf, errlen, "KVM_CREATE_VM failed: %s", strerror(errno));
		close(kvm_fd);
		return -1;
	}
	vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0UL);
	khz = vcpu_fd >= 0 ? ioctl(vcpu_fd, KVM_GET_TSC_KHZ, 0) : -1;
	if (vcpu_fd < 0 || khz <= 0) {
		snprintf(errbuf, errlen, "%s failed: %s",
			 vcpu_fd < 0 ? "KVM_CREATE_VCPU" : "KVM_GET_TSC_KHZ", strerror(errno));
		if (vcpu_fd >= 0)
			close(vcpu_fd);
		close(vm_fd);
		close(kvm_fd);
		return -1;
	}
	fprintf(out, "vmm: " KVM_DEVICE " is usable: %s, KVM API %d, up to %u vCPUs, "
		"TSC %.3f MHz; %s; --nested offers the guest: %s\n", what, KVM_API_VERSION,
		max_vcpus, khz / 1e3, level, nested_virt_name(nested));
	close(vcpu_fd);
	close(vm_fd);
	close(kvm_fd);
	return 0;
}

/* ---- interrupt routing and eventfds (for virtio_kvm.c) -------------------- */

/* KVM_SET_GSI_ROUTING replaces the whole table, so ours starts as a copy
 * of KVM's default: GSI 0-15 to the PIC and the IOAPIC, 16-23 to the
 * IOAPIC (the PIT and the guest's IOAPIC interrupts keep working). */
static int routing_init(struct vm *vm)
{
	struct kvm_irq_routing *r = calloc(1, sizeof(*r) + KVM_MAX_GSI_ROUTES *
					   sizeof(struct kvm_irq_routing_entry));

	if (!r)
		return -1;
	for (unsigned gsi = 0; gsi < KVM_FIRST_MSI_GSI; gsi++) {
		struct kvm_irq_routing_entry *e = &r->entries[r->nr++];

		e->gsi = gsi;
		e->type = KVM_IRQ_ROUTING_IRQCHIP;
		e->u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		e->u.irqchip.pin = gsi;
		if (gsi < 16) {
			e = &r->entries[r->nr++];
			e->gsi = gsi;
			e->type = KVM_IRQ_ROUTING_IRQCHIP;
			e->u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER :
							  KVM_IRQCHIP_PIC_SLAVE;
			e->u.irqchip.pin = gsi % 8;
		}
	}
	vm->routing = r;
	return 0;
}

int kvm_alloc_msi_gsi(struct vm *vm)
{
	int gsi = -1;

	pthread_mutex_lock(&vm->irq_lock);
	if (vm->next_gsi < KVM_FIRST_MSI_GSI)
		vm->next_gsi = KVM_FIRST_MSI_GSI;
	/* Each MSI GSI takes one entry beside the 40 default ones. */
	if (vm->next_gsi < KVM_MAX_GSI_ROUTES - 40 + KVM_FIRST_MSI_GSI)
		gsi = (int)vm->next_gsi++;
	pthread_mutex_unlock(&vm->irq_lock);
	return gsi;
}

int kvm_set_msi_route(struct vm *vm, unsigned gsi, uint64_t addr, uint32_t data)
{
	struct kvm_irq_routing_entry *e = NULL;
	int ret = -1;

	pthread_mutex_lock(&vm->irq_lock);
	if (!vm->routing && routing_init(vm)) {
		errno = ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < vm->routing->nr; i++)
		if (vm->routing->entries[i].gsi == gsi &&
		    vm->routing->entries[i].type == KVM_IRQ_ROUTING_MSI)
			e = &vm->routing->entries[i];
	if (!e) {
		if (vm->routing->nr >= KVM_MAX_GSI_ROUTES) {
			errno = ENOSPC;
			goto out;
		}
		e = &vm->routing->entries[vm->routing->nr++];
		memset(e, 0, sizeof(*e));
		e->gsi = gsi;
		e->type = KVM_IRQ_ROUTING_MSI;
	}
	e->u.msi.address_lo = (uint32_t)addr;
	e->u.msi.address_hi = (uint32_t)(addr >> 32);
	e->u.msi.data = data;
	ret = ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, vm->routing);
out:
	pthread_mutex_unlock(&vm->irq_lock);
	return ret < 0 ? -1 : 0;
}

int kvm_irqfd(struct vm *vm, int fd, unsigned gsi, bool assign)
{
	struct kvm_irqfd irqfd = {
		.fd = (uint32_t)fd, .gsi = gsi, .flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	return ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0 ? -1 : 0;
}

int kvm_ioeventfd_match(struct vm *vm, int fd, bool pio, uint64_t addr, unsigned len,
			bool datamatch, uint64_t data, bool assign)
{
	struct kvm_ioeventfd ev = {
		.datamatch = datamatch ? data : 0, .addr = addr, .len = len, .fd = fd,
		.flags = (pio ? KVM_IOEVENTFD_FLAG_PIO : 0) |
			 (datamatch ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0) |
			 (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};

	return ioctl(vm->vm_fd, KVM_IOEVENTFD, &ev) < 0 ? -1 : 0;
}

int kvm_ioeventfd(struct vm *vm, int fd, uint64_t gpa, bool assign)
{
	/* Length 0 matches a write of any size (KVM_CAP_IOEVENTFD_ANY_LENGTH);
	 * older hosts get the 2 bytes a virtio notify write has. */
	static int len = -1;

	if (len < 0)
		len = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD_ANY_LENGTH) > 0 ? 0 : 2;
	return kvm_ioeventfd_match(vm, fd, false, gpa, (unsigned)len, false, 0, assign);
}
