/*
 * virtio_blk.h - virtio-blk disks (dev_virtio_blk.c): the --disk option,
 * the device, and its counters.  Request types, statuses and feature bits
 * are the kernel's <linux/virtio_blk.h>.
 */
#ifndef VMM_VIRTIO_BLK_H
#define VMM_VIRTIO_BLK_H

#include <linux/virtio_blk.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memory.h"
#include "virtio_kvm.h"
#include "virtio_pci.h"

#define VIRTIO_BLK_QUEUE_SIZE 256
#define VIRTIO_BLK_SEG_MAX (VIRTIO_BLK_QUEUE_SIZE - 2)
#define VIRTIO_BLK_MAX_REQUEST (64 * MIB)   /* larger data: IOERR */

/* --disk FILE[,format=raw][,direct][,readonly][,poll[=USEC|off]][,locking=off]
 * (repeatable). */
#define VMM_MAX_DISKS 8

struct disk_config {
	char *path;                /* owned */
	bool direct;               /* O_DIRECT */
	bool readonly;
	bool nolock;               /* ,locking=off: no OFD lock on the image */
	enum poll_mode poll;       /* adaptive (the default), ,poll[=USEC]:
				    * fixed, ,poll=off (poll_window.h) */
	unsigned poll_us;          /* fixed: the window; else 0 */
};

#define DISK_POLL_US_DEFAULT 50
#define DISK_POLL_US_MAX 1000000

/* Parses one --disk argument ("FILE[,direct][,readonly][,...]") into
 * *disk (path allocated); -1 with one line in errbuf (qcow2 is refused with
 * the conversion command). */
int disk_option_parse(const char *arg, struct disk_config *disk, char *errbuf,
		      size_t errlen);
/* The disks the command line asked for (after options_parse); their count. */
unsigned blk_disk_configs(const struct disk_config **disks);

/* Per-disk request counters for --stats and --json (written by the disk's
 * I/O thread only, read after it stopped); wake-ups and interrupts are the
 * transport's (struct virtio_kvm). */
struct disk_stats {
	const char *path;
	uint64_t reads, writes, flushes, get_ids, unsupported;
	uint64_t read_bytes, write_bytes;
	uint64_t errors;           /* requests completed with IOERR */
	uint64_t bad_chains;       /* malformed descriptor chains */
	uint64_t ns_total;         /* time spent in host I/O calls */
};

struct blk_dev {
	struct virtio_pci vp;
	struct virtio_kvm kvm;     /* doorbell, interrupts, I/O thread */
	int fd;
	bool readonly, direct;
	int sync_errno;            /* the first failed fdatasync's errno: every
				    * later FLUSH fails (host_sync) */
	uint64_t capacity;         /* in 512-byte sectors */
	char serial[21];           /* GET_ID answer */
	struct disk_stats *stats;
	char name[24];             /* "virtio-blk0" ... */
	bool polling;              /* the I/O thread is polling: the driver
				    * is told not to notify (virtq_ask_notify) */
	struct virtq_chain chain;  /* the I/O thread's scratch */
};

/* Opens `disk` and builds the device (no KVM, no thread): the part unit
 * tests use.  errbuf says why not (missing file, qcow2 image ...). */
int blk_open(struct blk_dev *b, const struct disk_config *disk,
	     const struct guest_memory *mem, struct disk_stats *stats,
	     char *errbuf, size_t errlen);
void blk_close(struct blk_dev *b);
/* 0 unless a writable disk names a read-only block device (BLKROGET):
 * then -1 with the refusal in errbuf. */
int blk_check_writable(const char *path, bool device_readonly, bool disk_readonly,
		       char *errbuf, size_t errlen);
/* Serves every available request of the queue (at most `budget`);
 * returns the number completed, or -1 if the device was marked broken.
 * Takes and drops vp.lock itself. */
int blk_process_queue(struct blk_dev *b, unsigned budget);
/* Handles one chain: returns the status byte written (or -1 when the
 * chain cannot be completed) and the bytes written to the guest in *len. */
int blk_handle_chain(struct blk_dev *b, struct virtq_chain *c, uint32_t *len);

#endif /* VMM_VIRTIO_BLK_H */
