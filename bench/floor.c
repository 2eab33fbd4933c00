/* The floor for sweep throughput: the fail-nth loop of native/sweep.c as a tight C program, run
 * in a kfault guest under the same fault settings as a sweep (the agent sets them). The same
 * harness code as kfault's (native/harnesses.c is linked in), the same loop: an unarmed run, then
 * for nth = 1, 2, ...: pwrite nth, run, pread back, pwrite 0, free what the run made; stop at the
 * first nth where nothing was injected. fail-nth stays open for the whole run.
 *
 *   floor [--kmsg | --kfault] HARNESS SWEEPS
 *
 * --kmsg adds what kfault's C loop does beyond that, per step: rename the thread (prctl) and
 * drain /dev/kmsg before and after the step into a buffer. --kfault runs kfault's own C loop
 * instead, kf_sweep() of native/sweep.c (a thread per sweep, fail-nth and /dev/kmsg opened per
 * sweep), with a step callback that does nothing: no N-API, no JavaScript, no host. One sweep is
 * run first, unmeasured (warm-up); then SWEEPS sweeps are timed. Prints one JSON line. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "../native/kfault.h"

#define FAIL_NTH "/proc/thread-self/fail-nth"

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void reset_ctx(struct kf_ctx *c, const struct kf_harness *h, const char *dir)
{
	c->dir = dir;
	c->user = NULL;
	c->fd[0] = c->fd[1] = c->fd[2] = -1;
	c->id = -1;
	(void)h;
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

	return pwrite(fd, buf, len, 0) == len ? 0 : -1;
}

static long read_nth(int fd)
{
	char buf[16];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

static char logbuf[1 << 20];
static size_t loglen;

static void keep_record(void *opaque, unsigned long long usec, const char *text, size_t len)
{
	(void)opaque;
	(void)usec;
	if (loglen + len < sizeof(logbuf)) {
		memcpy(logbuf + loglen, text, len);
		loglen += len;
	}
}

/* native/kmsg.c's reader, as the sweep drains it: every record since the last call, its text kept */
static void drain_kmsg(int kmsg)
{
	kf_kmsg_drain(kmsg, keep_record, NULL);
}

static void count_step(void *opaque, const struct kf_step *s)
{
	(void)s;
	++*(int *)opaque;
}

/* One sweep by kfault's own loop (native/sweep.c) */
static int kf_sweep_steps(const struct kf_harness *h, const char *dir)
{
	struct kf_sweep_opts o = { .first = 1, .last = 1000 };
	struct kf_error e = { 0 };
	int steps = 0, complete = 0;

	if (kf_sweep(h, dir, &o, count_step, &steps, &complete, &e) < 0 || !complete) {
		fprintf(stderr, "floor: kf_sweep: %s %s\n", e.message, strerror(e.err));
		return -1;
	}
	return steps;
}

static int use_kf_sweep;

/* One sweep; returns its number of steps (the last one injected nothing), or -1. */
static int sweep(const struct kf_harness *h, const char *dir, int fd, int kmsg)
{
	struct kf_ctx ctx;
	int steps = 0, nth;

	if (use_kf_sweep)
		return kf_sweep_steps(h, dir);
	reset_ctx(&ctx, h, dir);
	if (h->setup && h->setup(&ctx) < 0)
		return -1;
	reset_ctx(&ctx, h, dir);
	if (h->run(&ctx) < 0)
		return -1;
	release(h, &ctx);
	for (nth = 1; nth <= 1000; nth++) {
		long left;

		reset_ctx(&ctx, h, dir);
		if (kmsg >= 0) {
			char name[16];

			snprintf(name, sizeof(name), "kf#%d", nth);
			prctl(PR_SET_NAME, name);
			drain_kmsg(kmsg);
			loglen = 0;
		}
		if (write_nth(fd, nth) < 0)
			return -1;
		h->run(&ctx);
		left = read_nth(fd);
		if (left != 0)
			write_nth(fd, 0);
		release(h, &ctx);
		if (kmsg >= 0)
			drain_kmsg(kmsg);
		steps++;
		if (left != 0)
			break;
	}
	if (h->teardown) {
		reset_ctx(&ctx, h, dir);
		h->teardown(&ctx);
	}
	return steps;
}

int main(int argc, char **argv)
{
	const struct kf_harness *h;
	struct kf_error e = { 0 };
	int with_kmsg = argc > 1 && strcmp(argv[1], "--kmsg") == 0;
	int sweeps, fd, kmsg = -1, steps = 0, per = 0;
	char dir[4096];
	long long t0, ns;

	use_kf_sweep = argc > 1 && strcmp(argv[1], "--kfault") == 0;
	argv += with_kmsg || use_kf_sweep;
	argc -= with_kmsg || use_kf_sweep;
	if (argc != 3 || !(h = kf_find_harness(argv[1])) || (sweeps = atoi(argv[2])) < 1) {
		fprintf(stderr, "usage: floor [--kmsg | --kfault] HARNESS SWEEPS\n");
		return 2;
	}
	if (!kf_in_guest(&e)) {
		fprintf(stderr, "floor: %s\n", e.message[0] ? e.message : strerror(e.err));
		return 2;
	}
	if (!getcwd(dir, sizeof(dir)))
		return 2;
	fd = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		perror(FAIL_NTH);
		return 2;
	}
	if (with_kmsg) {
		kmsg = kf_kmsg_open(0);
		if (kmsg < 0) {
			perror("/dev/kmsg");
			return 2;
		}
	}
	if ((per = sweep(h, dir, fd, kmsg)) < 0) {
		fprintf(stderr, "floor: %s: the harness failed unarmed\n", h->name);
		return 1;
	}
	t0 = now_ns();
	for (int i = 0; i < sweeps; i++) {
		int n = sweep(h, dir, fd, kmsg);

		if (n < 0) {
			fprintf(stderr, "floor: %s: the harness failed unarmed\n", h->name);
			return 1;
		}
		steps += n;
	}
	ns = now_ns() - t0;
	write_nth(fd, 0);
	printf("{\"harness\":\"%s\",\"sweeps\":%d,\"steps\":%d,\"ns\":%lld,\"firstSweepSteps\":%d}\n",
	       h->name, sweeps, steps, ns, per);
	return 0;
}
