#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "kfault.h"

#define FAIL_NTH "/proc/thread-self/fail-nth"

void kf_set_error(struct kf_error *e, int err, const char *syscall, const char *path)
{
	e->err = err;
	e->code = NULL;
	e->syscall = syscall;
	snprintf(e->path, sizeof(e->path), "%s", path ? path : "");
	e->message[0] = '\0';
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void reset_ctx(struct kf_ctx *c, const struct kf_harness *h, const char *dir)
{
	c->dir = dir;
	c->user = h->user;
	c->fd[0] = c->fd[1] = c->fd[2] = -1;
	c->id = -1;
	c->why = NULL;
}

static void release(const struct kf_harness *h, struct kf_ctx *c)
{
	if (h->undo)
		h->undo(c);
	for (int i = 0; i < 3; i++)
		if (c->fd[i] >= 0)
			close(c->fd[i]);
}

static int write_nth(int fd, unsigned int nth)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", nth);

	ssize_t n = pwrite(fd, buf, len, 0);

	if (n == len)
		return 0;
	if (n >= 0)
		errno = EIO; /* a short write sets no errno of its own */
	return -1;
}

/* What is left of the countdown: 0 means the nth injection point was reached and failed.
 * On kernels with fail_usercopy, fail-nth also counts copies to user space, so the countdown
 * can run out inside this very read (EFAULT): the harness ended before the nth point. */
#define LEFT_IN_READBACK (-2)
static long read_nth(int fd)
{
	char buf[16];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n < 0 && errno == EFAULT)
		return LEFT_IN_READBACK;
	if (n <= 0) {
		if (n == 0)
			errno = EIO;
		return -1;
	}
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/* Kernel log text of one step: /dev/kmsg message texts, one per line. */
struct kmsg_buf {
	char *buf;
	size_t len, cap;
	int cut; /* this step's log reached STEP_LOG_MAX */
};

/* A step's kernel log is kept up to this size (a storm of warnings cannot exhaust memory); the
 * host reads messages of at most 40 MiB (src/guest/channel.ts), JSON escaping included. */
#define STEP_LOG_MAX (16 << 20)
static const char LOG_CUT[] = "kfault: this step's kernel log was cut at 16 MiB\n";

static int log_append(struct kmsg_buf *log, const char *text, size_t len)
{
	if (log->len + len > STEP_LOG_MAX - sizeof(LOG_CUT)) {
		if (log->cut)
			return 0;
		log->cut = 1;
		text = LOG_CUT;
		len = sizeof(LOG_CUT) - 1;
	}
	if (log->len + len + 1 > log->cap) {
		size_t cap = log->cap ? log->cap * 2 : 65536;
		char *buf;

		while (cap < log->len + len + 1)
			cap *= 2;
		buf = realloc(log->buf, cap);
		if (!buf)
			return -1;
		log->buf = buf;
		log->cap = cap;
	}
	memcpy(log->buf + log->len, text, len);
	log->len += len;
	log->buf[log->len] = '\0';
	return 0;
}

static void append_record(void *log, unsigned long long usec, const char *text, size_t len)
{
	(void)usec;
	log_append(log, text, len);
}

/* Appends the message texts logged since the last call. */
static void drain_kmsg(int kmsg, struct kmsg_buf *log)
{
	kf_kmsg_drain(kmsg, append_record, log);
}

static int skipped(const struct kf_sweep_opts *o, int nth)
{
	for (size_t i = 0; i < o->nskip; i++)
		if (o->skip[i] == nth)
			return 1;
	return 0;
}

#define MAKE_IT_FAIL "/proc/thread-self/make-it-fail"
#define TRACE_MARKER "/sys/kernel/tracing/instances/kfault/trace_marker"

/* Marks the start of step nth in the trace buffer: the agent's tracepoints (a failed allocation
 * with its stack, for faults that log no trace of their own) are tied to the step after the
 * last marker. Written before the step is armed, so the write itself is never a fault point. */
static void mark_step(int marker, int nth)
{
	char buf[32];
	int len;

	if (marker < 0)
		return;
	len = snprintf(buf, sizeof(buf), "kfault-step %d\n", nth);
	if (write(marker, buf, len) < 0) {
		/* tracing is off or markers are disabled: the agent then reads no trace */
	}
}

/* Random mode: this thread (only) takes faults while the harness runs, as the injectors'
 * task-filter allows. fd stays open: a write to it allocates nothing. */
static int set_make_it_fail(int fd, int on)
{
	return pwrite(fd, on ? "1" : "0", 1, 0) == 1 ? 0 : -1;
}

/* Turning it off is itself a copy from user space, which fail_usercopy may fail while this
 * thread is still armed: try again until it is off (each try fails only at the injectors'
 * probability), so that no fault is left armed on the thread. */
static int disarm_make_it_fail(int fd)
{
	for (int i = 0; i < 1000; i++) {
		if (set_make_it_fail(fd, 0) == 0)
			return 0;
		if (errno != EFAULT && errno != ENOMEM)
			return -1;
	}
	return -1;
}

/* The scratch disks with a filesystem, checked with e2fsck after each step that injected. */
struct fs_checks {
	int n;
	struct kf_disk disk[KF_MAX_DISKS];
	struct kf_fsck check[KF_MAX_DISKS];
	char *out[KF_MAX_DISKS];
	struct kmsg_buf log[KF_MAX_DISKS];
};

static int fs_checks_open(struct fs_checks *c)
{
	memset(c, 0, sizeof(*c));
	c->n = kf_disks_from_env(c->disk, KF_MAX_DISKS);
	for (int i = 0; i < c->n; i++)
		if (!(c->out[i] = malloc(KF_FSCK_OUT_MAX)))
			return -1;
	return 0;
}

static void fs_checks_close(struct fs_checks *c)
{
	for (int i = 0; i < c->n; i++) {
		free(c->out[i]);
		free(c->log[i].buf);
	}
}

/* Checks every disk, each with what the kernel logged meanwhile; nothing is armed. */
static int fs_checks_run(struct fs_checks *c, int kmsg, struct kf_error *e)
{
	for (int i = 0; i < c->n; i++) {
		struct kmsg_buf *log = &c->log[i];

		if (kf_fsck_disk(&c->disk[i], &c->check[i], c->out[i], e) < 0)
			return -1;
		log->len = 0;
		log->cut = 0;
		if (log->buf)
			log->buf[0] = '\0';
		if (kmsg >= 0)
			drain_kmsg(kmsg, log);
		c->check[i].kmsg = log->buf ? log->buf : "";
		c->check[i].kmsg_len = log->len;
	}
	return 0;
}

struct sweep_job {
	const struct kf_harness *h;
	const char *dir;
	const struct kf_sweep_opts *o;
	kf_step_fn on_step;
	void *opaque;
	int *complete;
	struct kf_error *e;
	int ret;
};

/* The comm of the sweep thread during step nth: kmemleak prints it with every object the step
 * allocated, and an oops prints it in its "CPU: ... Comm:" line. */
static void name_step(int nth)
{
	char name[16];

	snprintf(name, sizeof(name), "kf#%d", nth);
	prctl(PR_SET_NAME, name);
}

/* /dev/kmsg stays open from one sweep to the next: opening it allocates a reader with its own
 * record buffers (about 0.3 ms under TCG with kmemleak, per sweep). One spare reader, taken
 * and given back atomically, so sweeps on several threads at once each still get their own. */
static int spare_kmsg = -1;

static int take_kmsg(void)
{
	int fd = __atomic_exchange_n(&spare_kmsg, -1, __ATOMIC_ACQ_REL);

	if (fd < 0)
		return kf_kmsg_open(0);
	lseek(fd, 0, SEEK_END); /* from now on: what was logged before is not this sweep's */
	return fd;
}

static void give_back_kmsg(int fd)
{
	int none = -1;

	if (fd >= 0 && !__atomic_compare_exchange_n(&spare_kmsg, &none, fd, 0, __ATOMIC_ACQ_REL,
						    __ATOMIC_ACQUIRE))
		close(fd);
}

/* A harness returns 0, or -errno of the call that failed: anything else is a bug of the
 * harness, reported as such (the host would refuse the step otherwise). */
static int contract_broken(const struct kf_harness *h, int ret, struct kf_error *e)
{
	if (ret <= 0 && ret >= -4095)
		return 0;
	kf_set_error(e, EINVAL, h->syscall, h->name);
	e->code = "KFAULT_HARNESS_CONTRACT";
	snprintf(e->message, sizeof(e->message), "%s returned %d; expected 0 or -errno",
		 h->syscall, ret);
	return 1;
}

/* The warm-up run and every step on one CPU: SLUB's per-CPU slabs are what the warm-up
 * filled, so a step that moved to another CPU would not need a new slab page (whose first,
 * high-order and __GFP_NOWARN attempt is a silent fault point of its own) where it did before.
 * Step numbers then do not depend on where the scheduler put the thread. */
static void pin_to_this_cpu(void)
{
	int cpu = sched_getcpu();
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

int kf_sweep_here(const struct kf_harness *h, const char *dir, const struct kf_sweep_opts *o,
		      kf_step_fn on_step, void *opaque, int *complete, struct kf_error *e)
{
	struct kmsg_buf log = { 0 };
	struct fs_checks fs;
	struct kf_ctx ctx;
	int fd, kmsg, marker, mif = -1, ret = -1, tid = (int)gettid();

	*complete = 0;
	fd = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		kf_set_error(e, errno, "open", FAIL_NTH);
		return -1;
	}
	if (fs_checks_open(&fs) < 0) {
		kf_set_error(e, ENOMEM, "malloc", "fsck output");
		fs_checks_close(&fs);
		close(fd);
		return -1;
	}
	kmsg = take_kmsg();
	marker = open(TRACE_MARKER, O_WRONLY | O_CLOEXEC);
	pin_to_this_cpu();
	prctl(PR_SET_NAME, "kf-setup");
	reset_ctx(&ctx, h, dir);
	if (h->setup && (ret = h->setup(&ctx)) < 0) {
		kf_set_error(e, -ret, "setup", h->name);
		snprintf(e->message, sizeof(e->message), "harness %s: setup failed: %s", h->name,
			 ctx.why ? ctx.why : strerror(-ret));
		ret = -1;
		goto out;
	}
	/* An unarmed run first: the harness must work without faults, and it warms up every
	 * page and lazy kernel state the armed runs touch. */
	reset_ctx(&ctx, h, dir);
	ret = h->run(&ctx);
	release(h, &ctx);
	if (contract_broken(h, ret, e)) {
		ret = -1;
		goto teardown;
	}
	if (ret < 0) {
		kf_set_error(e, -ret, h->syscall, h->name);
		snprintf(e->message, sizeof(e->message),
			 "harness %s fails with no fault injected: %s", h->name, strerror(-ret));
		ret = -1;
		goto teardown;
	}
	/* every armed step starts from a disk that was just checked and mounted again: so does
	 * the first (what the unarmed run left is checked too, and repaired if need be) */
	if (fs.n && fs_checks_run(&fs, kmsg, e) < 0) {
		ret = -1;
		goto teardown;
	}

	if (o->random && (mif = open(MAKE_IT_FAIL, O_WRONLY | O_CLOEXEC)) < 0) {
		kf_set_error(e, errno, "open", MAKE_IT_FAIL);
		ret = -1;
		goto teardown;
	}
	for (int nth = o->first; nth <= o->last; nth++) {
		struct kf_step s = { .nth = nth, .tid = tid };
		int read_err = 0;
		long left;
		long long t0;

		if (skipped(o, nth))
			continue;
		if (o->on_start)
			o->on_start(opaque, nth);
		reset_ctx(&ctx, h, dir);
		name_step(nth);
		if (kmsg >= 0)
			drain_kmsg(kmsg, &log); /* what others logged between steps is not this step's */
		log.len = 0;
		log.cut = 0;
		if (log.buf)
			log.buf[0] = '\0'; /* random mode searches it: nothing of an earlier step */
		mark_step(marker, nth);
		if (!o->random && write_nth(fd, (unsigned int)nth) < 0) {
			kf_set_error(e, errno, "write", FAIL_NTH);
			ret = -1;
			goto teardown;
		}
		if (o->random)
			set_make_it_fail(mif, 1);
		t0 = now_ns();
		s.ret = h->run(&ctx);
		s.ns = now_ns() - t0;
		if (o->random && disarm_make_it_fail(mif) < 0) {
			kf_set_error(e, errno, "write", MAKE_IT_FAIL);
			ret = -1;
			goto teardown;
		}
		left = o->random ? 1 : read_nth(fd);
		if (left == -1)
			read_err = errno; /* before write_nth, release and drain_kmsg change it */
		if (left != 0 && !o->random)
			write_nth(fd, 0);
		release(h, &ctx);
		if (kmsg >= 0)
			drain_kmsg(kmsg, &log);
		if (left == -1) {
			kf_set_error(e, read_err, "read", FAIL_NTH);
			ret = -1;
			goto teardown;
		}
		if (contract_broken(h, s.ret, e)) {
			ret = -1;
			goto teardown;
		}
		s.injected = o->random ? (log.buf && strstr(log.buf, "FAULT_INJECTION: forcing a failure") != NULL) : left == 0;
		s.kmsg = log.buf ? log.buf : "";
		s.kmsg_len = log.len;
		if (fs.n && s.injected) {
			if (fs_checks_run(&fs, kmsg, e) < 0) {
				ret = -1;
				goto teardown;
			}
			s.fsck = fs.check;
			s.nfsck = fs.n;
		}
		on_step(opaque, &s);
		if (!s.injected && !o->random) {
			*complete = 1;
			break;
		}
	}
	ret = 0;
teardown:
	if (mif >= 0)
		close(mif);
	prctl(PR_SET_NAME, "kf-teardown");
	if (h->teardown) {
		reset_ctx(&ctx, h, dir);
		h->teardown(&ctx);
	}
out:
	write_nth(fd, 0);
	close(fd);
	if (marker >= 0)
		close(marker);
	give_back_kmsg(kmsg);
	free(log.buf);
	fs_checks_close(&fs);
	return ret;
}

static void *sweep_thread(void *arg)
{
	struct sweep_job *j = arg;

	j->ret = kf_sweep_here(j->h, j->dir, j->o, j->on_step, j->opaque, j->complete, j->e);
	return NULL;
}

int kf_sweep(const struct kf_harness *h, const char *dir, const struct kf_sweep_opts *o,
	     kf_step_fn on_step, void *opaque, int *complete, struct kf_error *e)
{
	struct sweep_job job = { h, dir, o, on_step, opaque, complete, e, -1 };
	pthread_t t;
	int err;

	*complete = 0;
	if (!kf_in_guest(e))
		return -1;
	err = pthread_create(&t, NULL, sweep_thread, &job);
	if (err) {
		kf_set_error(e, err, "pthread_create", h->name);
		return -1;
	}
	pthread_join(t, NULL);
	return job.ret;
}
