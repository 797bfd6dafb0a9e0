/*
 * stats.h - per-vCPU exit counters and the --stats report (stats.c), the
 * --json document (report.c), and the clock both use.
 */
#ifndef VMM_STATS_H
#define VMM_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "io.h"

struct vm;

/* A counter per userspace exit kind: one per KVM exit reason, and for port
 * and MMIO exits one per registered region, so --stats says "serial" rather
 * than "io". */
#define STATS_REASONS 64                    /* KVM_EXIT_* values */
#define STATS_SLOTS (STATS_REASONS + IO_MAX_HANDLERS + 2)
#define STATS_SLOT_IO_UNHANDLED (STATS_REASONS + IO_MAX_HANDLERS)
#define STATS_SLOT_MMIO_UNHANDLED (STATS_REASONS + IO_MAX_HANDLERS + 1)

struct exit_counter {
	uint64_t count;
	uint64_t ns_total;        /* time vmm spent handling these exits */
	uint64_t ns_max;
};

struct vcpu_stats {
	struct exit_counter slot[STATS_SLOTS];
	uint64_t run_ns;          /* time inside KVM_RUN (guest + kernel) */
	uint64_t runs;            /* KVM_RUN calls */
};

/* Memory: vmm's peak RSS and how much of it is guest RAM the guest
 * touched; the difference is what the monitor itself costs. */
struct rss_figures {
	uint64_t peak_kib;
	uint64_t guest_kib;
};
/* Opens /proc/self/status, where rss_measure reads the peak: call before
 * the sandbox's filter, which lets no thread open a file. */
void rss_prepare(void);
void rss_measure(const struct vm *vm, struct rss_figures *rss);

/* Name of a stats slot ("serial", "hlt", "shutdown" ...). */
const char *stats_slot_name(const struct vm *vm, unsigned slot);
void stats_print(const struct vm *vm, FILE *out);
/* The host timeline, the last line of --stats: main prints it just before
 * vmm exits, once the reports are out and the teardown is done. */
void stats_print_timeline(const struct vm *vm, FILE *out);
uint64_t now_ns(void);


/* report.c: the --json document.  report_prepare, before the sandbox's
 * filters, opens the file (before --user's drop, too) and reads what the
 * document says of the host; report_write_json then writes into that file
 * (or opens `path` itself when nothing was prepared). */
int report_prepare(const char *path, char *errbuf, size_t errlen);
/* Closes and removes the prepared file of a run that never started. */
void report_discard(void);
int report_write_json(const struct vm *vm, const char *path, double wall_s,
		      char *errbuf, size_t errlen);
/* Writes s as a JSON string (escaped; NULL as null), for devices' members. */
void json_put_string(FILE *f, const char *s);
/* True if s[0..len) is one syntactically valid JSON object. */
bool json_is_object(const char *s, size_t len);

#endif /* VMM_STATS_H */
