/* A user's harness runs in a process of its own: its own crash (SIGSEGV, abort) must not take
 * the guest agent down. The agent forks and the child at once execs the harness runner
 * (native/harness-runner.c), which loads the shared object, runs the sweep loop and sends each
 * step over a pipe; the agent passes them on and, when the runner dies of a signal in a step,
 * reports that step and starts a new runner at the next one. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kfault.h"
#include "runner.h"

extern char **environ;

/* A step's kernel log from the harness process, at most (the loop's own log is far smaller). */
#define KMSG_MAX (16 << 20)

/* Each disk's check after a step, as the runner sent it (its pointers mean nothing here). */
struct step_checks {
	struct kf_fsck check[KF_MAX_DISKS];
	char *out[KF_MAX_DISKS], *kmsg[KF_MAX_DISKS];
};

static int read_all(int fd, void *buf, size_t len);

/* Reads s->nfsck checks after a step's log; -1 on a short read, -2 when the runner's sizes
 * are out of bounds (it holds the user's code: they are not trusted). */
static int read_checks(int fd, struct kf_step *s, struct step_checks *c)
{
	if (s->nfsck < 0 || s->nfsck > KF_MAX_DISKS)
		return -2;
	for (int i = 0; i < s->nfsck; i++) {
		struct kf_fsck *f = &c->check[i];
		char *grown;

		if (read_all(fd, f, sizeof(*f)) < 0)
			return -1;
		if (f->out_len > KF_FSCK_OUT_MAX || f->kmsg_len > KMSG_MAX)
			return -2;
		f->device[sizeof(f->device) - 1] = f->fs[sizeof(f->fs) - 1] = f->note[sizeof(f->note) - 1] = '\0';
		if (!(grown = realloc(c->out[i], f->out_len + 1)))
			return -1;
		c->out[i] = grown;
		if (!(grown = realloc(c->kmsg[i], f->kmsg_len + 1)))
			return -1;
		c->kmsg[i] = grown;
		if (read_all(fd, c->out[i], f->out_len) < 0 || read_all(fd, c->kmsg[i], f->kmsg_len) < 0)
			return -1;
		c->out[i][f->out_len] = c->kmsg[i][f->kmsg_len] = '\0';
		f->out = c->out[i];
		f->kmsg = c->kmsg[i];
	}
	s->fsck = s->nfsck ? c->check : NULL;
	return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* kf_error holds its code and syscall by pointer, to strings that live as long as the process:
 * those the runner names are kept here, once each (the runner's own pointers mean nothing in
 * this process). A runner cannot grow the table without bound: past its size, "unknown". */
static const char *intern(const char *s)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static char table[32][48];
	static int used;
	const char *found = "unknown";

	pthread_mutex_lock(&lock);
	for (int i = 0; i < used; i++)
		if (strcmp(table[i], s) == 0) {
			found = table[i];
			goto out;
		}
	if (used < 32) {
		snprintf(table[used], sizeof(table[used]), "%s", s);
		found = table[used++];
	}
out:
	pthread_mutex_unlock(&lock);
	return found;
}

static void take_error(const struct runner_error *r, struct kf_error *e)
{
	struct runner_error c = *r;

	c.code[sizeof(c.code) - 1] = c.syscall[sizeof(c.syscall) - 1] = '\0';
	c.path[sizeof(c.path) - 1] = c.message[sizeof(c.message) - 1] = '\0';
	e->err = c.err;
	e->code = c.code[0] ? intern(c.code) : NULL;
	e->syscall = intern(c.syscall[0] ? c.syscall : "kfault_run");
	snprintf(e->path, sizeof(e->path), "%s", c.path);
	snprintf(e->message, sizeof(e->message), "%s", c.message);
}

/* The runner sits next to this addon (both built by binding.gyp). */
static int runner_path(char *buf, size_t size, struct kf_error *e)
{
	Dl_info info;
	const char *slash;

	if (!dladdr((void *)kf_sweep_isolated, &info) || !info.dli_fname ||
	    !(slash = strrchr(info.dli_fname, '/'))) {
		kf_set_error(e, ENOENT, "dladdr", RUNNER_NAME);
		snprintf(e->message, sizeof(e->message), "cannot tell where the kfault addon was loaded from, to find %s next to it", RUNNER_NAME);
		return -1;
	}
	if ((size_t)snprintf(buf, size, "%.*s/%s", (int)(slash - info.dli_fname), info.dli_fname, RUNNER_NAME) >= size) {
		kf_set_error(e, ENAMETOOLONG, "execve", info.dli_fname);
		return -1;
	}
	return 0;
}

/* The runner's argv, made before the fork (the child may not allocate). */
struct runner_argv {
	char *argv[ARG_COUNT + 1];
	char first[16], last[16], random[4], parent[16];
	char *skip;
};

static int make_argv(struct runner_argv *a, char *runner, const char *library, const char *arg,
		     const char *dir, const struct kf_sweep_opts *o, struct kf_error *e)
{
	size_t len = 0;

	a->skip = malloc(o->nskip * 12 + 1);
	if (!a->skip) {
		kf_set_error(e, ENOMEM, "malloc", library);
		return -1;
	}
	a->skip[0] = '\0';
	for (size_t i = 0; i < o->nskip; i++)
		len += (size_t)sprintf(a->skip + len, "%s%d", i ? "," : "", o->skip[i]);
	snprintf(a->first, sizeof(a->first), "%d", o->first);
	snprintf(a->last, sizeof(a->last), "%d", o->last);
	snprintf(a->random, sizeof(a->random), "%d", o->random ? 1 : 0);
	snprintf(a->parent, sizeof(a->parent), "%d", (int)getpid());
	a->argv[0] = runner;
	a->argv[ARG_LIBRARY] = (char *)library;
	a->argv[ARG_ARG] = (char *)arg;
	a->argv[ARG_DIR] = (char *)dir;
	a->argv[ARG_FIRST] = a->first;
	a->argv[ARG_LAST] = a->last;
	a->argv[ARG_RANDOM] = a->random;
	a->argv[ARG_SKIP] = a->skip;
	a->argv[ARG_PARENT] = a->parent;
	a->argv[ARG_COUNT] = NULL;
	return 0;
}

/* In the child of fork(): only async-signal-safe calls until execve. The pipe becomes fd 3 and
 * every other fd but 0, 1 and 2 is closed, whether or not it was opened with O_CLOEXEC. */
static void __attribute__((noreturn)) exec_runner(int out, char *const argv[], int maxfd)
{
	struct { char tag; int err; } __attribute__((packed)) failed = { REC_EXEC_FAILED, 0 };

	if (out == RUNNER_FD)
		fcntl(out, F_SETFD, 0);
	else if (dup2(out, RUNNER_FD) < 0)
		_exit(127);
	if (close_range(RUNNER_FD + 1, ~0U, 0) < 0)
		for (int fd = RUNNER_FD + 1; fd < maxfd; fd++)
			close(fd);
	execve(argv[0], argv, environ);
	failed.err = errno;
	if (write(RUNNER_FD, &failed, sizeof(failed)) < 0) {
		/* the agent then sees the runner exit with 127 */
	}
	_exit(127);
}

/* One runner: 1 when it died of a signal in step *crashed_nth, 0 when it finished, -1 on error. */
static int one_child(char *runner, const char *library, const char *arg, const char *dir,
		     const struct kf_sweep_opts *o, kf_step_fn on_step, void *opaque,
		     int *complete, int *crashed_nth, int *signo, struct kf_error *e)
{
	int pipefd[2], status, started = 0, finished = 0, result = -2, maxfd = 65536, exec_err = 0;
	struct runner_argv argv;
	struct rlimit nofile;
	struct step_checks checks = { 0 };
	char *kmsg = NULL;
	pid_t pid;

	if (make_argv(&argv, runner, library, arg, dir, o, e) < 0)
		return -1;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < (rlim_t)maxfd)
		maxfd = (int)nofile.rlim_cur;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		kf_set_error(e, errno, "pipe2", library);
		free(argv.skip);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		kf_set_error(e, errno, "fork", library);
		close(pipefd[0]);
		close(pipefd[1]);
		free(argv.skip);
		return -1;
	}
	if (pid == 0)
		exec_runner(pipefd[1], argv.argv, maxfd);
	close(pipefd[1]);
	free(argv.skip);
	for (;;) {
		struct runner_error rerr;
		struct kf_step s;
		char tag, *grown;
		int r;

		if (read_all(pipefd[0], &tag, 1) < 0)
			break;
		if (tag == REC_START) {
			if (read_all(pipefd[0], &started, sizeof(started)) < 0)
				break;
		} else if (tag == REC_STEP) {
			if (read_all(pipefd[0], &s, sizeof(s)) < 0)
				break;
			/* the runner holds the user's code: what it says of its log's size is not trusted */
			if (s.kmsg_len > KMSG_MAX) {
				kf_set_error(e, EPROTO, "read", library);
				snprintf(e->message, sizeof(e->message),
					 "the harness process sent a step %d whose kernel log is %zu bytes; at most %d expected",
					 s.nth, s.kmsg_len, KMSG_MAX);
				result = -1;
				break;
			}
			grown = realloc(kmsg, s.kmsg_len + 1);
			if (!grown)
				break;
			kmsg = grown;
			if (read_all(pipefd[0], kmsg, s.kmsg_len) < 0)
				break;
			kmsg[s.kmsg_len] = '\0';
			s.kmsg = kmsg;
			r = read_checks(pipefd[0], &s, &checks);
			if (r == -2) {
				kf_set_error(e, EPROTO, "read", library);
				snprintf(e->message, sizeof(e->message),
					 "the harness process sent a step %d with %d fsck checks, or one out of bounds", s.nth, s.nfsck);
				result = -1;
				break;
			}
			if (r < 0)
				break;
			on_step(opaque, &s);
			finished = s.nth;
		} else if (tag == REC_DONE) {
			if (read_all(pipefd[0], complete, sizeof(*complete)) == 0)
				result = 0;
			break;
		} else if (tag == REC_ERROR) {
			if (read_all(pipefd[0], &rerr, sizeof(rerr)) == 0) {
				take_error(&rerr, e);
				result = -1;
			}
			break;
		} else if (tag == REC_EXEC_FAILED) {
			if (read_all(pipefd[0], &exec_err, sizeof(exec_err)) < 0 || !exec_err)
				exec_err = ENOEXEC;
			kf_set_error(e, exec_err, "execve", runner);
			e->code = "KFAULT_RUNNER";
			snprintf(e->message, sizeof(e->message), "cannot start the harness runner %.180s: %s",
				 runner, strerror(exec_err));
			result = -1;
			break;
		} else {
			kf_set_error(e, EPROTO, "read", library);
			snprintf(e->message, sizeof(e->message),
				 "the harness process sent a record of unknown type 0x%02x", (unsigned char)tag);
			result = -1;
			break;
		}
	}
	close(pipefd[0]);
	free(kmsg);
	for (int i = 0; i < KF_MAX_DISKS; i++) {
		free(checks.out[i]);
		free(checks.kmsg[i]);
	}
	/* what the runner sends is no longer read: it must not sweep on unheard */
	if (result == -1)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (result != -2)
		return result;
	if (WIFSIGNALED(status) && started && started != finished) {
		*crashed_nth = started;
		*signo = WTERMSIG(status);
		return 1;
	}
	kf_set_error(e, ECHILD, "kfault_run", library);
	e->code = "KFAULT_HARNESS_CRASHED";
	if (WIFSIGNALED(status))
		snprintf(e->message, sizeof(e->message), "the harness was killed by %s outside a step (in its setup, unarmed run or teardown)",
			 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "a signal");
	else
		snprintf(e->message, sizeof(e->message), "the harness process exited (status %d) before the sweep ended",
			 WEXITSTATUS(status));
	return -1;
}

int kf_sweep_isolated(const char *library, const char *arg, const char *dir,
		      const struct kf_sweep_opts *o, kf_step_fn on_step, void *opaque,
		      int *complete, struct kf_error *e)
{
	struct kf_sweep_opts opts = *o;
	char runner[4096];
	int *skip = NULL;
	size_t nskip = o->nskip;
	int ret = -1;

	*complete = 0;
	if (!kf_in_guest(e) || runner_path(runner, sizeof(runner), e) < 0)
		return -1;
	skip = malloc((o->nskip + 64) * sizeof(int));
	if (!skip) {
		kf_set_error(e, ENOMEM, "malloc", library);
		return -1;
	}
	memcpy(skip, o->skip, o->nskip * sizeof(int));
	for (int crashes = 0;; crashes++) {
		int nth = 0, signo = 0, r;

		opts.skip = skip;
		opts.nskip = nskip;
		r = one_child(runner, library, arg, dir, &opts, on_step, opaque, complete, &nth, &signo, e);
		if (r <= 0) {
			ret = r;
			break;
		}
		struct kf_step s = { .nth = nth, .signal = signo };
		s.kmsg = "";
		on_step(opaque, &s);
		if (crashes == 63) {
			kf_set_error(e, ECHILD, "kfault_run", library);
			e->code = "KFAULT_HARNESS_CRASHED";
			snprintf(e->message, sizeof(e->message), "the harness crashed in 64 steps; giving up");
			break;
		}
		skip[nskip++] = nth;
		opts.first = nth + 1;
		if (opts.first > opts.last) {
			ret = 0;
			break;
		}
	}
	free(skip);
	return ret;
}
