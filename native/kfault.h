/* Plain C core of the kfault addon: the fail-nth sweep loop and the built-in harnesses.
 * Nothing in here knows about N-API; native/addon.cc is the only bridge to JavaScript. */
#ifndef KFAULT_H
#define KFAULT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Per-run state of a harness. The sweep loop resets it before every run. */
struct kf_ctx {
	const char *dir;   /* a writable tmpfs directory in the guest */
	int fd[3];         /* -1 when unused; closed by the loop after each run */
	long id;           /* an IPC id, key serial or mount flag; -1 when unused */
	char path[256];
};

struct kf_harness {
	const char *name;
	const char *syscall;  /* the call under test, as the report names it */
	const char *summary;
	int (*setup)(struct kf_ctx *);   /* once before the sweep, never armed; may be NULL */
	int (*run)(struct kf_ctx *);     /* armed: returns 0, or -errno of the call that failed */
	void (*undo)(struct kf_ctx *);   /* after disarm: frees what run made beyond ctx->fd; may be NULL */
	void (*teardown)(struct kf_ctx *); /* once after the sweep, never armed; may be NULL */
};

extern const struct kf_harness kf_harnesses[];
extern const size_t kf_harness_count;
const struct kf_harness *kf_find_harness(const char *name);

/* One step of a sweep: fail-nth was armed with nth before the run. */
struct kf_step {
	int nth;
	int ret;       /* 0, or -errno as returned by the harness */
	int injected;  /* fail-nth read back 0: the nth fault-injection point was reached and failed */
	long long ns;  /* wall time of the run */
	size_t log_off, log_len; /* the kernel log records of this step, in kf_log */
};

/* Kernel log text of a sweep: every step's /dev/kmsg records, message text only, one per line. */
struct kf_log {
	char *buf;
	size_t len, cap;
};

/* Why a sweep could not run. code overrides the errno name (e.g. "KFAULT_NOT_GUEST"). */
struct kf_error {
	int err;
	const char *code;
	const char *syscall;
	char path[256];
	char message[256];
};

/* Fills *e for a failed call (no message of its own). */
void kf_set_error(struct kf_error *e, int err, const char *syscall, const char *path);

/* True only inside a guest booted by kfault: its kernel command line carries kfault.guest=1. */
int kf_in_guest(struct kf_error *e);

/* Sweeps h with fail-nth = 1, 2, ... up to max_steps on the calling thread. Steps go to
 * steps[0..*count); what the kernel logged during each step goes to log (caller frees buf). *complete is 1 when the sweep ended at a step where nothing was injected.
 * Returns 0, or -1 with *e filled; faults are never left armed on return. */
int kf_sweep(const struct kf_harness *h, const char *dir, int max_steps,
	     struct kf_step *steps, size_t *count, int *complete, struct kf_log *log,
	     struct kf_error *e);

/* Global random injection: what a stress run did. */
struct kf_stress_result {
	long runs;
	long failed;  /* runs whose harness returned an error */
	long long ns;
};

/* Runs h in a loop for ms milliseconds while every file in probability_paths reads 100, then
 * writes 0 to them. They are opened before injection starts: with every allocation failing,
 * no open() of them could succeed, and injection could not be turned off again. */
int kf_stress(const struct kf_harness *h, const char *dir, long ms,
	      const char *const *probability_paths, int npaths, struct kf_stress_result *out,
	      struct kf_error *e);

#ifdef __cplusplus
}
#endif
#endif
