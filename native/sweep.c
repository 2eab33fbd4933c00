#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

static void reset_ctx(struct kf_ctx *c, const char *dir)
{
	c->dir = dir;
	c->fd[0] = c->fd[1] = c->fd[2] = -1;
	c->id = -1;
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
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

static int log_append(struct kf_log *log, const char *text, size_t len)
{
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

/* Reads the records logged since the last call: "prio,seq,usec,flags;text\n KEY=v\n" each. */
static void drain_kmsg(int kmsg, struct kf_log *log)
{
	char rec[8192];

	for (;;) {
		ssize_t n = read(kmsg, rec, sizeof(rec) - 1);
		char *text, *end;

		if (n < 0 && errno == EPIPE)
			continue; /* records were overwritten before we read them; go on */
		if (n <= 0)
			return;
		rec[n] = '\0';
		text = strchr(rec, ';');
		if (!text)
			continue;
		text++;
		end = strchr(text, '\n');
		log_append(log, text, end ? (size_t)(end - text) + 1 : strlen(text));
	}
}

int kf_sweep(const struct kf_harness *h, const char *dir, int max_steps,
	     struct kf_step *steps, size_t *count, int *complete, struct kf_log *log,
	     struct kf_error *e)
{
	struct kf_ctx ctx;
	int fd, kmsg, ret = -1;

	*count = 0;
	*complete = 0;
	if (!kf_in_guest(e))
		return -1;
	fd = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		kf_set_error(e, errno, "open", FAIL_NTH);
		return -1;
	}
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg >= 0)
		lseek(kmsg, 0, SEEK_END);
	reset_ctx(&ctx, dir);
	if (h->setup && (ret = h->setup(&ctx)) < 0) {
		kf_set_error(e, -ret, "setup", h->name);
		goto out;
	}
	/* An unarmed run first: the harness must work without faults, and it warms up every
	 * page and lazy kernel state the armed runs touch. */
	reset_ctx(&ctx, dir);
	ret = h->run(&ctx);
	release(h, &ctx);
	if (ret < 0) {
		kf_set_error(e, -ret, h->syscall, h->name);
		snprintf(e->message, sizeof(e->message),
			 "harness %s fails with no fault injected: %s", h->name, strerror(-ret));
		ret = -1;
		goto teardown;
	}
	memset(steps, 0, sizeof(*steps) * (size_t)max_steps);

	for (int nth = 1; nth <= max_steps; nth++) {
		struct kf_step *s = &steps[nth - 1];
		long left;
		long long t0;

		reset_ctx(&ctx, dir);
		if (write_nth(fd, (unsigned int)nth) < 0) {
			kf_set_error(e, errno, "write", FAIL_NTH);
			ret = -1;
			goto teardown;
		}
		t0 = now_ns();
		s->ret = h->run(&ctx);
		s->ns = now_ns() - t0;
		left = read_nth(fd);
		if (left != 0)
			write_nth(fd, 0);
		s->log_off = log->len;
		if (kmsg >= 0)
			drain_kmsg(kmsg, log);
		s->log_len = log->len - s->log_off;
		release(h, &ctx);
		s->nth = nth;
		s->injected = left == 0;
		*count = (size_t)nth;
		if (left == -1) {
			kf_set_error(e, errno, "read", FAIL_NTH);
			ret = -1;
			goto teardown;
		}
		if (!s->injected) {
			*complete = 1;
			break;
		}
	}
	ret = 0;
teardown:
	if (h->teardown) {
		reset_ctx(&ctx, dir);
		h->teardown(&ctx);
	}
out:
	write_nth(fd, 0);
	close(fd);
	if (kmsg >= 0)
		close(kmsg);
	return ret;
}
