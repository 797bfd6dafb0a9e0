# pci_testdev_guest.s - a tiny Multiboot guest for test_pci_testdev.py: it
# drives the pci-testdev end to end as kvm-unit-tests' lib/pci-testdev.c
# does, and reads vmm's CPUID leaves, so vmm's device and QEMU's can be
# checked with the same code without the real guest.  Flat 32-bit ring 0,
# no paging, no interrupts; output on COM1, status on isa-debug-exit.
#
#   vmm cpuid: kind K flags F ecx C edx D     (or "vmm cpuid: absent")
#   pci-testdev at slot S
#   pci-testdev mmio-no-eventfd: count 16     (one line per test, memory
#   ...                                        BAR then I/O BAR)
#   moved BAR 0                               (then the memory wildcard
#   pci-testdev mmio-wildcard-eventfd: count N  test again, its BAR moved
#   moved BAR 1                               after it was selected; the
#   pci-testdev portio-datamatch-eventfd: count N  same for ports)
#   done
#
# Status 0 when every check held, 1 with a "FAIL: ..." line, 3 when there
# is no pci-testdev.  Assembled with `as --32`, linked with
# `ld -m elf_i386 -Ttext=0x100000`.

	.set MB_MAGIC, 0x1BADB002
	.set COM1, 0x3f8
	.set DEBUG_EXIT, 0xf4
	.set PCI_ADDR, 0xcf8
	.set PCI_DATA, 0xcfc
	.set VENDOR_DEVICE, 0x00051b36        # 1b36:0005
	.set NEW_MEM, 0xd0000000               # where the BARs are moved
	.set NEW_IO, 0xd000
	.set WRITES, 16                        # as kvm-unit-tests
	.set HDR_WIDTH, 1
	.set HDR_OFFSET, 4
	.set HDR_DATA, 8
	.set HDR_COUNT, 12
	.set HDR_NAME, 16

	.text
	.code32
	.align 4
	.long MB_MAGIC, 0, -MB_MAGIC

	.globl _start
_start:
	mov $stack_top, %esp
	call check_cpuid
	call find_testdev
	movl $0, is_pio
	call run_all
	movl $1, is_pio
	call run_all
	# A BAR moved while its test is current: the doorbell must follow.
	movl $1, move_pending
	movl $0, is_pio
	mov $1, %eax                           # mmio-wildcard-eventfd
	call run_one
	movl $1, move_pending
	movl $1, is_pio
	mov $2, %eax                           # portio-datamatch-eventfd
	call run_one
	mov $msg_done, %esi
	call puts
	xor %eax, %eax
	jmp exit

# ---- vmm's CPUID leaves -----------------------------------------------------

check_cpuid:
	mov $0x40000100, %eax
	cpuid
	cmp $0x45424d56, %ebx                  # "VMBE"
	jne 1f
	cmp $0x5648434e, %ecx                  # "NCHV"
	jne 1f
	cmp $0x00004d4d, %edx                  # "MM\0\0"
	jne 1f
	cmp $0x40000101, %eax
	mov $msg_cpuid_max, %esi
	jne fail
	mov $0x40000101, %eax
	cpuid
	mov $msg_cpuid_kind, %esi
	call puts
	call print_dec
	mov $msg_flags, %esi
	call puts
	mov %ebx, %eax
	call print_dec
	mov $msg_ecx, %esi
	call puts
	mov %ecx, %eax
	call print_dec
	mov $msg_edx, %esi
	call puts
	mov %edx, %eax
	call print_dec
	mov $10, %al
	jmp putc
1:	mov $msg_cpuid_absent, %esi
	jmp puts

# ---- finding the device (configuration mechanism #1) ------------------------

# %eax = configuration address -> %eax = the dword there
cfg_read:
	push %edx
	mov $PCI_ADDR, %dx
	out %eax, %dx
	mov $PCI_DATA, %dx
	in %dx, %eax
	pop %edx
	ret

# %eax = configuration address, %ecx = value
cfg_write:
	push %edx
	mov $PCI_ADDR, %dx
	out %eax, %dx
	mov $PCI_DATA, %dx
	mov %ecx, %eax
	out %eax, %dx
	pop %edx
	ret

find_testdev:
	xor %ebx, %ebx                         # slot
1:	mov %ebx, %eax
	shl $11, %eax
	or $0x80000000, %eax
	mov %eax, cfg_base
	call cfg_read
	cmp $VENDOR_DEVICE, %eax
	je 2f
	inc %ebx
	cmp $32, %ebx
	jb 1b
	mov $msg_no_testdev, %esi
	call puts
	mov $3, %eax
	jmp exit
2:	mov cfg_base, %eax
	or $0x10, %eax                         # BAR 0: memory
	call cfg_read
	and $~0xf, %eax
	mov %eax, mem_base
	mov cfg_base, %eax
	or $0x14, %eax                         # BAR 1: ports
	call cfg_read
	and $~0x3, %eax
	mov %eax, io_base
	mov $msg_found, %esi
	call puts
	mov %ebx, %eax
	call print_dec
	mov $10, %al
	jmp putc

# Moves the BAR of the current kind to NEW_MEM or NEW_IO.
move_bar:
	push %ecx
	mov cfg_base, %eax
	testl $1, is_pio
	jnz 1f
	or $0x10, %eax
	mov $NEW_MEM, %ecx
	mov %ecx, mem_base
	jmp 2f
1:	or $0x14, %eax
	mov $NEW_IO, %ecx
	mov %ecx, io_base
2:	call cfg_write
	mov $msg_moved, %esi
	call puts
	mov is_pio, %eax
	call print_dec
	mov $10, %al
	call putc
	pop %ecx
	ret

# ---- the device's registers, through the BAR of the current kind ------------
# Offset in %edx, value in %ecx, result in %eax; nothing else changes.

rd8:
	testl $1, is_pio
	jnz 1f
	mov mem_base, %eax
	movzbl (%eax,%edx), %eax
	ret
1:	push %edx
	add io_base, %edx
	xor %eax, %eax
	in %dx, %al
	pop %edx
	ret

rd32:
	testl $1, is_pio
	jnz 1f
	mov mem_base, %eax
	mov (%eax,%edx), %eax
	ret
1:	push %edx
	add io_base, %edx
	in %dx, %eax
	pop %edx
	ret

wr8:
	testl $1, is_pio
	jnz 1f
	mov mem_base, %eax
	mov %cl, (%eax,%edx)
	ret
1:	push %edx
	add io_base, %edx
	mov %cl, %al
	out %al, %dx
	pop %edx
	ret

# ---- the tests -------------------------------------------------------------

# kvm-unit-tests' pci_testdev_one() for test %eax (0-2) of the current kind.
run_one:
	push %ebx
	push %esi
	mov %eax, %ebx
	mov %eax, %ecx
	xor %edx, %edx
	call wr8                               # select
	cmpl $0, move_pending
	je 1f
	movl $0, move_pending
	call move_bar
1:	mov $HDR_COUNT, %edx
	call rd32
	test %eax, %eax
	mov $msg_count0, %esi
	jnz fail
	mov $HDR_WIDTH, %edx
	call rd8
	cmp $1, %eax
	mov $msg_width, %esi
	jne fail
	mov $HDR_DATA, %edx
	call rd32
	mov %eax, %ecx
	mov $HDR_OFFSET, %edx
	call rd32
	mov %eax, %edx
	mov $WRITES, %esi
2:	call wr8
	dec %esi
	jnz 2b
	mov $msg_test, %esi
	call puts
	mov $HDR_NAME, %edx                    # the name, a byte at a time
3:	call rd8
	test %al, %al
	jz 4f
	call putc
	inc %edx
	jmp 3b
4:	mov $msg_count, %esi
	call puts
	mov $HDR_COUNT, %edx
	call rd32
	push %eax
	call print_dec
	mov $10, %al
	call putc
	pop %eax
	cmp $WRITES, %eax                      # no eventfd: every write counted
	je 5f
	test %ebx, %ebx
	mov $msg_counted, %esi
	jz fail
	test %eax, %eax                        # eventfd: all or none
	jnz fail
5:	pop %esi
	pop %ebx
	ret

# The three tests of the current kind, then a stop: all reads are 0.
run_all:
	xor %eax, %eax
	call run_one
	mov $1, %eax
	call run_one
	mov $2, %eax
	call run_one
	mov $3, %ecx
	xor %edx, %edx
	call wr8
	call rd32
	mov %eax, %ecx
	mov $HDR_NAME, %edx
	call rd32
	or %ecx, %eax
	mov $msg_stopped, %esi
	jnz fail
	ret

# ---- output and exit -------------------------------------------------------

putc:
	push %edx
	mov $COM1, %dx
	out %al, %dx
	pop %edx
	ret

puts:                                          # %esi: a NUL-terminated string
	push %eax
1:	lodsb
	test %al, %al
	jz 2f
	call putc
	jmp 1b
2:	pop %eax
	ret

print_dec:                                     # %eax, unsigned
	push %eax
	push %ecx
	push %edx
	mov $10, %ecx
	push $0                                # end mark
1:	xor %edx, %edx
	div %ecx
	add $0x30, %dl
	push %edx
	test %eax, %eax
	jnz 1b
2:	pop %eax
	test %eax, %eax
	jz 3f
	call putc
	jmp 2b
3:	pop %edx
	pop %ecx
	pop %eax
	ret

fail:                                          # %esi: what failed
	push %esi
	mov $msg_fail, %esi
	call puts
	pop %esi
	call puts
	mov $10, %al
	call putc
	mov $1, %eax
exit:
	mov $DEBUG_EXIT, %dx
	out %eax, %dx
1:	cli
	hlt
	jmp 1b

	.data
	.align 4
cfg_base:	.long 0
mem_base:	.long 0
io_base:	.long 0
is_pio:		.long 0
move_pending:	.long 0
msg_cpuid_kind:	.asciz "vmm cpuid: kind "
msg_flags:	.asciz " flags "
msg_ecx:	.asciz " ecx "
msg_edx:	.asciz " edx "
msg_cpuid_absent: .asciz "vmm cpuid: absent\n"
msg_cpuid_max:	.asciz "CPUID 0x40000100 EAX is not 0x40000101"
msg_no_testdev:	.asciz "no pci-testdev\n"
msg_found:	.asciz "pci-testdev at slot "
msg_moved:	.asciz "moved BAR "
msg_test:	.asciz "pci-testdev "
msg_count:	.asciz ": count "
msg_count0:	.asciz "the count is not 0 after selecting a test"
msg_width:	.asciz "the width is not 1"
msg_counted:	.asciz "the count is neither 0 nor every write"
msg_stopped:	.asciz "reads are not 0 after a stop"
msg_done:	.asciz "done\n"
msg_fail:	.asciz "FAIL: "

	.bss
	.align 16
	.space 4096
stack_top:
