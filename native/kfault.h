/* Plain C core of the kfault addon: the fail-nth sweep loop and the built-in harnesses.
 * Nothing in here knows about N-API; native/addon.cc is the only bridge to JavaScript. */
#ifndef KFAULT_H
#define KFAULT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kf_user;
struct kf_error;

/* Per-run state of a harness. The sweep loop resets it before every run. */
struct kf_ctx {
	const char *dir;   /* a writable tmpfs directory in the guest */
	const struct kf_user *user; /* a user's harness (dlopen'ed), NULL for built-ins */
	int fd[3];         /* -1 when unused; closed by the loop after each run */
	long id;           /* an IPC id, key serial or mount flag; -1 when unused */
	char path[256];
	const char *why;   /* set by a setup that fails: what is missing, in words (static) */
};

struct kf_harness {
	const char *name;
	const char *syscall;  /* the call under test, as the report names it */
	const char *summary;
	int (*setup)(struct kf_ctx *);   /* once before the sweep, never armed; may be NULL */
	int (*run)(struct kf_ctx *);     /* armed: returns 0, or -errno of the call that failed */
	void (*undo)(struct kf_ctx *);   /* after disarm: frees what run made beyond ctx->fd; may be NULL */
	void (*teardown)(struct kf_ctx *); /* once after the sweep, never armed; may be NULL */
	const struct kf_user *user;  /* set for a user's harness */
};

extern const struct kf_harness kf_harnesses[];
extern const size_t kf_harness_count;
/* the ext4 harnesses (native/harnesses-ext4.c), listed after kf_harnesses */
extern const struct kf_harness kf_ext4_harnesses[];
extern const size_t kf_ext4_harness_count;
const struct kf_harness *kf_find_harness(const char *name);
/* The whole catalogue, both tables: the ith harness, or NULL past its end. */
const struct kf_harness *kf_harness_at(size_t i);

/* A user's harness: a shared object with kfault_run() and optional kfault_setup() and
 * kfault_teardown(), each taking the argument string. */
struct kf_user {
	void *dl;
	int (*setup)(const char *arg);
	int (*run)(const char *arg);
	void (*teardown)(const char *arg);
	char arg[1024];
};

/* A scratch disk with a filesystem, as the agent's environment names it (KFAULT_DISK<i>,
 * KFAULT_FS<i>, KFAULT_MNT<i>). */
#define KF_MAX_DISKS 8
struct kf_disk {
	char dev[64], fs[16], mnt[200];
};

/* What e2fsck said of one disk after a step (native/fsck.c). */
#define KF_FSCK_OUT_MAX 65536
struct kf_fsck {
	char device[64], fs[16];
	int ran;           /* e2fsck -fn ran to its end */
	int status;        /* its exit status (0 clean, 4 errors left uncorrected...); -1: it did not */
	int timed_out;     /* killed past KF_FSCK_TIMEOUT_MS */
	int replayed;      /* the journal needed recovery: mounted and unmounted (unarmed) first */
	int replay_err;    /* errno of that mount, when it failed (e2fsck then skips recovery) */
	int error_state;   /* the superblock's s_state had ERROR_FS: the kernel recorded an error */
	int repaired;      /* e2fsck -fy ran after it, so that the next step starts from a clean fs */
	int repair_status;
	long long ns;      /* the whole check: unmount, replay, e2fsck, repair, mount again */
	char note[256];    /* why it was not checked, or what else happened; "" */
	const char *out;   /* e2fsck -fn's stdout and stderr, the first KF_FSCK_OUT_MAX bytes */
	size_t out_len;
	long long out_total;
	const char *kmsg;  /* what the kernel logged during the check (replay, mount, unmount) */
	size_t kmsg_len;
};

/* mount(2) flags for a mount's statvfs f_flag: to mount it again as it was. */
unsigned long kf_mount_flags(unsigned long statvfs_flags);

/* The scratch disks with a filesystem in this process's environment; their count. */
int kf_disks_from_env(struct kf_disk *d, int max);

/* Between steps, nothing armed: unmounts d (when mounted at its mount point), lets the kernel
 * replay its journal when it needs recovery (mount + umount), runs e2fsck -fn on it (bounded in
 * time and output; out is a buffer of KF_FSCK_OUT_MAX bytes), repairs it with e2fsck -fy when
 * that found anything, and mounts it back as it was. Returns 0, or -1 with *e filled when the
 * disk could not be mounted again. */
int kf_fsck_disk(const struct kf_disk *d, struct kf_fsck *f, char *out, struct kf_error *e);

/* One step of a sweep: fail-nth was armed with nth before the run. */
struct kf_step {
	int nth;
	int ret;       /* 0, or -errno as returned by the harness */
	int injected;  /* fail-nth read back 0: the nth fault-injection point was reached and failed */
	int tid;       /* the sweep's thread: kmemleak and oops reports name it, with comm "kf#<nth>" */
	int signal;    /* a user's harness killed its process during this step (SIGSEGV...); else 0 */
	long long ns;  /* wall time of the run */
	const char *kmsg; /* what the kernel logged during the step: message texts, one per line */
	size_t kmsg_len;
	const struct kf_fsck *fsck; /* a check per scratch disk with a filesystem, after the step */
	int nfsck;
};

/* Which steps a sweep runs: nth = first..last, except those in skip (e.g. a step that
 * crashed an earlier guest). */
struct kf_sweep_opts {
	int first, last;
	const int *skip;
	size_t nskip;
	/* called before each step is armed; may be NULL */
	void (*on_start)(void *opaque, int nth);
	/* random mode: no fail-nth; the thread runs with make-it-fail=1 for runs first..last, and
	 * the injectors' probability/interval/times (with task-filter) decide what fails */
	int random;
};

/* /dev/kmsg (native/kmsg.c): an fd at the end of the log (from_start: at its oldest record),
 * or -1 with errno; then each record logged since the last drain: its timestamp (us since
 * boot) and its message text with a newline, valid only during the call. */
typedef void (*kf_kmsg_fn)(void *opaque, unsigned long long usec, const char *text, size_t len);
int kf_kmsg_open(int from_start);
void kf_kmsg_drain(int fd, kf_kmsg_fn rec, void *opaque);

/* Called on the sweep's thread after each step; s and its kmsg are valid only during the call. */
typedef void (*kf_step_fn)(void *opaque, const struct kf_step *s);

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

/* Sweeps h with fail-nth = o->first .. o->last on a new thread of its own (so its pid names this
 * sweep in kmemleak's and oops reports), calling on_step after each step. *complete is 1 when
 * the sweep ended at a step where nothing was injected. Returns 0, or -1 with *e filled;
 * faults are never left armed on return. */
int kf_sweep(const struct kf_harness *h, const char *dir, const struct kf_sweep_opts *o,
	     kf_step_fn on_step, void *opaque, int *complete, struct kf_error *e);

/* kf_sweep's loop, on the calling thread. */
int kf_sweep_here(const struct kf_harness *h, const char *dir, const struct kf_sweep_opts *o,
		  kf_step_fn on_step, void *opaque, int *complete, struct kf_error *e);

/* Sweeps a user's harness (a shared object) in a child process of its own, so a harness that
 * crashes (SIGSEGV...) costs only its step: it is reported through on_step with s->signal set,
 * and the sweep goes on in a new child at the next step. The shared object is loaded only in
 * the child. Returns like kf_sweep. */
int kf_sweep_isolated(const char *library, const char *arg, const char *dir,
		      const struct kf_sweep_opts *o, kf_step_fn on_step, void *opaque,
		      int *complete, struct kf_error *e);

/* Loads a user's harness from a shared object; fills *h to sweep it. */
int kf_user_open(const char *path, const char *arg, struct kf_user *u, struct kf_harness *h,
		 struct kf_error *e);
void kf_user_close(struct kf_user *u);

/* Loads a kernel module (finit_module). Returns 0, 1 when it was already loaded, or -1. */
int kf_load_module(const char *path, const char *params, struct kf_error *e);

/* Global random injection: what a stress run did. */
struct kf_stress_result {
	long runs;
	long failed;  /* runs whose harness returned an error */
	long long ns;
};

/* Runs h in a loop for ms milliseconds while each file in probability_paths reads its probability[i],
 * then writes 0 to them. They are opened before injection starts: with every allocation
 * failing, no open() of them could succeed, and injection could not be turned off again. */
int kf_stress(const struct kf_harness *h, const char *dir, long ms,
	      const char *const *probability_paths, const int *probability, int npaths,
	      struct kf_stress_result *out, struct kf_error *e);

/* Takes an exclusive flock on path (created if needed) without waiting, writing holder into
 * it. Returns the fd that holds it, -2 when another open file holds it, or -1 with *e filled. */
int kf_lock_try(const char *path, const char *holder, struct kf_error *e);
void kf_lock_release(int fd);


/* kfault command (native/command.c): one run of an unmodified program under ptrace. */
enum { KF_CMD_TRACE, KF_CMD_NTH, KF_CMD_RANDOM };
#define KF_CMD_MAX_SYSCALLS 512
#define KF_CMD_MAX_THREADS 256
#define KF_CMD_OUTPUT_MAX 4096

struct kf_cmd_opts {
	const char *path;     /* the program, resolved (execve does not search PATH) */
	char *const *argv;
	const char *cwd;
	long timeout_ms;      /* then every task of the run is killed (SIGKILL) */
	int mode;             /* KF_CMD_TRACE, KF_CMD_NTH or KF_CMD_RANDOM */
	int sysno, call, nth; /* KF_CMD_NTH: fail-nth = nth at the call-th call of syscall sysno */
};

struct kf_cmd_run {
	int started;        /* the program's execve succeeded */
	int exec_errno;     /* not started: why (0: unknown) */
	int exit_code;      /* -1 when killed by a signal */
	int signal;
	int timed_out;      /* killed at timeout_ms */
	int pid;
	int armed;          /* KF_CMD_RANDOM: make-it-fail was set after the execve */
	int reached;        /* KF_CMD_NTH: the call was reached and fail-nth written */
	int tid;            /* the thread it was written for */
	int injected;       /* fail-nth read back 0 */
	long left;          /* what fail-nth read back (-1: could not be read) */
	long ret;           /* the call's return value, -errno when it failed */
	int exited_in_call; /* the thread ended inside the call (no syscall exit) */
	long long ns;
	unsigned counts[KF_CMD_MAX_SYSCALLS]; /* calls per syscall number, after the execve */
	int order[KF_CMD_MAX_SYSCALLS];       /* syscall numbers in the order of their first call */
	int nordered;
	int threads[KF_CMD_MAX_THREADS];      /* every task traced */
	int nthreads;
	char output[KF_CMD_OUTPUT_MAX];       /* the tail of stdout and stderr, interleaved */
	size_t output_len;
	long long output_total;
};

/* Runs the program once; only in a kfault guest. Returns 0 (whatever the program did), or -1
 * with *e filled when the run could not be made; nothing is left armed or running. */
int kf_command_run(const struct kf_cmd_opts *o, struct kf_cmd_run *r, struct kf_error *e);
const char *kf_syscall_name(int nr);
int kf_syscall_number(const char *name);

#ifdef __cplusplus
}
#endif
#endif
