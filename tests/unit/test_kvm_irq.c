/*
 * test_kvm_irq.c - the MSI routing table vmm hands to KVM_SET_GSI_ROUTING
 * (vmm/kvm.c).  That ioctl replaces KVM's whole table, so ours must keep
 * KVM's defaults (GSI 0-15 on the PIC and IOAPIC, 16-23 on the IOAPIC) or
 * the PIT and every IOAPIC interrupt would stop.  Without a VM the ioctl
 * fails (EBADF) after the table is built, which is what is checked here.
 */
#include "unit.h"

#include "vmm.h"

#include <errno.h>

static void test_gsis_start_after_the_ioapic_and_run_out(void **state)
{
	struct vm vm;
	int gsi, last = -1;
	unsigned n = 0;

	(void)state;
	memset(&vm, 0, sizeof(vm));
	pthread_mutex_init(&vm.irq_lock, NULL);
	assert_int_equal(kvm_alloc_msi_gsi(&vm), KVM_FIRST_MSI_GSI);
	while ((gsi = kvm_alloc_msi_gsi(&vm)) >= 0) {
		assert_int_equal(gsi, last < 0 ? KVM_FIRST_MSI_GSI + 1 : last + 1);
		last = gsi;
		n++;
	}
	/* Room in the table for every GSI handed out, beside the 40 defaults. */
	assert_int_equal(n + 1 + 40, KVM_MAX_GSI_ROUTES);
}

static void test_routing_keeps_kvm_defaults(void **state)
{
	struct vm vm;
	const struct kvm_irq_routing_entry *e;

	(void)state;
	memset(&vm, 0, sizeof(vm));
	vm.vm_fd = -1;
	pthread_mutex_init(&vm.irq_lock, NULL);
	errno = 0;
	assert_int_equal(kvm_set_msi_route(&vm, 24, 0xfee01000, 0x4041), -1);
	assert_int_equal(errno, EBADF);
	assert_non_null(vm.routing);
	assert_int_equal(vm.routing->nr, 24 + 16 + 1);
	bool ioapic[24] = {0}, pic[16] = {0};

	for (unsigned i = 0; i < 40; i++) {
		e = &vm.routing->entries[i];
		assert_int_equal(e->type, KVM_IRQ_ROUTING_IRQCHIP);
		assert_true(e->gsi < 24);
		if (e->u.irqchip.irqchip == KVM_IRQCHIP_IOAPIC) {
			assert_int_equal(e->u.irqchip.pin, e->gsi);
			ioapic[e->gsi] = true;
		} else {
			assert_true(e->gsi < 16);
			assert_int_equal(e->u.irqchip.irqchip, e->gsi < 8 ? KVM_IRQCHIP_PIC_MASTER :
								     KVM_IRQCHIP_PIC_SLAVE);
			assert_int_equal(e->u.irqchip.pin, e->gsi % 8);
			pic[e->gsi] = true;
		}
	}
	for (unsigned g = 0; g < 24; g++)
		assert_true(ioapic[g] && (g >= 16 || pic[g]));
	e = &vm.routing->entries[40];
	assert_int_equal(e->type, KVM_IRQ_ROUTING_MSI);
	assert_int_equal(e->gsi, 24);
	assert_int_equal(e->u.msi.address_lo, 0xfee01000);
	assert_int_equal(e->u.msi.address_hi, 0);
	assert_int_equal(e->u.msi.data, 0x4041);
	/* A new message for the same GSI replaces its entry. */
	kvm_set_msi_route(&vm, 24, 0x1fee02000ull, 0x42);
	assert_int_equal(vm.routing->nr, 41);
	assert_int_equal(e->u.msi.address_lo, 0xfee02000);
	assert_int_equal(e->u.msi.address_hi, 1);
	kvm_set_msi_route(&vm, 25, 0xfee00000, 0x43);
	assert_int_equal(vm.routing->nr, 42);
	free(vm.routing);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gsis_start_after_the_ioapic_and_run_out),
		cmocka_unit_test(test_routing_keeps_kvm_defaults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
