/* The process a user's harness runs in. native/isolate.c forks the guest agent and execs this at
 * once: a fork of the multi-threaded agent may only make async-signal-safe calls (no dlopen, no
 * malloc), and it would hold every fd of the agent, its virtio port included. Here, in a fresh
 * process whose only fds are 0, 1, 2 and the pipe to the agent (fd 3), the shared object is
 * loaded and swept; every step goes to the agent as a record (native/runner.h).
 *
 * usage: kfault-harness-runner LIBRARY ARG DIR FIRST LAST RANDOM SKIP PARENT_PID
 * (SKIP: comma-separated step numbers, "" for none). It arms faults only in a kfault guest. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "kfault.h"
#include "runner.h"

static int write_all(const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(RUNNER_FD, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A failed write: the agent stopped reading (or the harness closed fd 3); nobody would hear
 * of the steps that follow, so none is run. */
static void send(const void *buf, size_t len)
{
	if (write_all(buf, len) < 0)
		_exit(1);
}

static void record(char tag, const void *body, size_t len)
{
	send(&tag, 1);
	send(body, len);
}

static void on_start(void *opaque, int nth)
{
	(void)opaque;
	record(REC_START, &nth, sizeof(nth));
}

static void on_step(void *opaque, const struct kf_step *s)
{
	(void)opaque;
	record(REC_STEP, s, sizeof(*s));
	send(s->kmsg, s->kmsg_len);
	/* then each disk's check: the struct, e2fsck's output, the kernel's log of the check */
	for (int i = 0; i < s->nfsck; i++) {
		send(&s->fsck[i], sizeof(s->fsck[i]));
		send(s->fsck[i].out, s->fsck[i].out_len);
		send(s->fsck[i].kmsg, s->fsck[i].kmsg_len);
	}
}

static void send_error(const struct kf_error *e)
{
	struct runner_error r;

	memset(&r, 0, sizeof(r));
	r.err = e->err;
	snprintf(r.code, sizeof(r.code), "%s", e->code ? e->code : "");
	snprintf(r.syscall, sizeof(r.syscall), "%s", e->syscall ? e->syscall : "");
	snprintf(r.path, sizeof(r.path), "%s", e->path);
	snprintf(r.message, sizeof(r.message), "%s", e->message);
	record(REC_ERROR, &r, sizeof(r));
}

static void __attribute__((noreturn)) fail_args(const char *what, const char *value)
{
	struct kf_error e;

	kf_set_error(&e, EINVAL, "execve", RUNNER_NAME);
	e.code = "KFAULT_RUNNER_ARGS";
	snprintf(e.message, sizeof(e.message), "%s: bad %s '%.64s'", RUNNER_NAME, what, value);
	send_error(&e);
	exit(2);
}

static int parse_int(const char *what, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		fail_args(what, s);
	return (int)v;
}

/* "3,17" -> {3, 17}; the list is at most as long as the text. */
static int *parse_skip(const char *s, size_t *n)
{
	int *skip = calloc(strlen(s) / 2 + 1, sizeof(int));
	char *copy = strdup(s), *save, *tok;

	*n = 0;
	if (!skip || !copy) {
		free(copy);
		return skip;
	}
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		skip[(*n)++] = parse_int("skip step", tok, 1, INT_MAX);
	free(copy);
	return skip;
}

/* A fresh process: what the agent's thread had blocked or ignored is not the harness's. SIGPIPE
 * stays ignored, as in the agent, so that a write to a closed pipe returns -EPIPE to the harness
 * instead of killing its process. */
static void reset_signals(void)
{
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, sig == SIGPIPE ? SIG_IGN : SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

int main(int argc, char **argv)
{
	struct kf_sweep_opts opts = { 0 };
	struct kf_error e = { 0 };
	struct kf_user user;
	struct kf_harness h;
	int complete = 0, ret, *skip;
	pid_t parent;

	if (fcntl(RUNNER_FD, F_GETFD) < 0) {
		fprintf(stderr, "%s: fd %d is not open; this program is started by the kfault agent "
				"(native/isolate.c), with fd %d the pipe it reads steps from\n",
			RUNNER_NAME, RUNNER_FD, RUNNER_FD);
		return 2;
	}
	if (argc != ARG_COUNT) {
		char n[16];

		snprintf(n, sizeof(n), "%d", argc - 1);
		fail_args("argument count (expected LIBRARY ARG DIR FIRST LAST RANDOM SKIP PARENT_PID)", n);
	}
	/* the agent may have died between its fork and this line: then getppid() is another process */
	parent = parse_int("parent pid", argv[ARG_PARENT], 1, INT_MAX);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		return 1;
	reset_signals();
	opts.first = parse_int("first step", argv[ARG_FIRST], 1, 1000000);
	opts.last = parse_int("last step", argv[ARG_LAST], opts.first, 1000000);
	opts.random = parse_int("random flag", argv[ARG_RANDOM], 0, 1);
	skip = parse_skip(argv[ARG_SKIP], &opts.nskip);
	if (!skip) {
		kf_set_error(&e, ENOMEM, "malloc", RUNNER_NAME);
		send_error(&e);
		return 1;
	}
	opts.skip = skip;
	opts.on_start = on_start;
	if (!kf_in_guest(&e)) {
		send_error(&e);
		return 1;
	}
	ret = kf_user_open(argv[ARG_LIBRARY], argv[ARG_ARG], &user, &h, &e);
	if (ret == 0)
		ret = kf_sweep_here(&h, argv[ARG_DIR], &opts, on_step, NULL, &complete, &e);
	if (ret < 0)
		send_error(&e);
	else
		record(REC_DONE, &complete, sizeof(complete));
	/* no dlclose and no atexit handlers of the harness: what it left behind ends with the
	 * process; only its buffered output is written out */
	free(skip);
	fflush(NULL);
	_exit(0);
}
