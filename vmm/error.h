/*
 * error.h - what vmm is and how it fails: its version, its exit statuses
 * and the one-line error message (error.c).  Depends on nothing, so any
 * file can report a failure without knowing the VM.
 */
#ifndef VMM_ERROR_H
#define VMM_ERROR_H

#define VMM_VERSION "0.1.0"

/* ---- exit statuses of the vmm process ------------------------------------
 * 0..119 are the guest's own status (written to the isa-debug-exit port);
 * the values below are vmm's, so a script can tell who failed.  They follow
 * the conventions of timeout(1) (124), env(1) (125) and the shell (128+sig). */
enum vmm_status {
	VMM_STATUS_GUEST_MAX = 119,   /* larger guest values are clamped here */
	VMM_STATUS_TRIPLE_FAULT = 120,
	VMM_STATUS_KVM_ERROR = 121,   /* internal error, failed entry */
	VMM_STATUS_BAD_ACCESS = 122,  /* port or MMIO access no device handles */
	VMM_STATUS_NO_EXIT = 123,     /* guest halted forever or stopped without status */
	VMM_STATUS_TIMEOUT = 124,
	VMM_STATUS_SETUP = 125,       /* bad option, file, missing KVM ... */
	VMM_STATUS_SANDBOX = 126,     /* a thread made a system call its seccomp filter forbids */
	VMM_STATUS_SIGNAL_BASE = 128, /* 128 + signal number */
};


/* Printf-style "vmm: ..." line to stderr (stdout is flushed first). */
void vmm_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* VMM_ERROR_H */
