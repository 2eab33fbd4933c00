/* kfault command: one run of an unmodified program under ptrace. The program and every thread
 * and child it makes are traced (PTRACE_O_TRACECLONE, TRACEFORK, TRACEVFORK, TRACEEXEC,
 * TRACESYSGOOD), so static and multi-threaded programs work as dynamic ones do. Three modes:
 *   trace:  count every syscall of the program (which calls a sweep can aim at);
 *   nth:    at the entry of the call-th call of one syscall, write nth to that thread's
 *           /proc/PID/task/TID/fail-nth; at its exit read it back (0: the nth fault point was
 *           reached and failed) and reset it;
 *   random: once the program's own execve has succeeded (PTRACE_EVENT_EXEC), write 1 to its
 *           /proc/PID/make-it-fail (inherited by its threads and children) and let it run.
 * Nothing is armed before the program's execve succeeded, so no fault ever strikes a wrapper.
 * A run gets a bounded wall-clock time: then every task of it is killed (SIGKILL). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kfault.h"
#include "syscall-names.h"

#define NSYSCALL_NAMES (sizeof(kf_syscall_names) / sizeof(kf_syscall_names[0]))

extern char **environ;

const char *kf_syscall_name(int nr)
{
	return nr >= 0 && (size_t)nr < NSYSCALL_NAMES ? kf_syscall_names[nr] : NULL;
}

int kf_syscall_number(const char *name)
{
	for (size_t i = 0; i < NSYSCALL_NAMES; i++)
		if (kf_syscall_names[i] && strcmp(kf_syscall_names[i], name) == 0)
			return (int)i;
	return -1;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The watchdog: drains the program's output (stdout and stderr, one pipe) into a ring that
 * keeps its tail, and kills the program's process group when the run's time is up. */
struct watchdog {
	int out;       /* read end of the program's output */
	int wake;      /* read end: the tracer writes a byte when the run is over */
	int pgid;
	long long deadline_ns;
	int timed_out;
	char ring[KF_CMD_OUTPUT_MAX];
	long long total;
};

static void ring_put(struct watchdog *w, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		w->ring[(w->total + (long long)i) % KF_CMD_OUTPUT_MAX] = buf[i];
	w->total += (long long)n;
}

static void *watchdog_main(void *arg)
{
	struct watchdog *w = arg;
	char buf[4096];
	int out_open = 1;

	for (;;) {
		struct pollfd p[2] = { { .fd = out_open ? w->out : -1, .events = POLLIN }, { .fd = w->wake, .events = POLLIN } };
		long long left = w->deadline_ns - now_ns();
		int timeout = w->timed_out ? -1 : left <= 0 ? 0 : (int)(left / 1000000 + 1);
		int n = poll(p, 2, timeout);

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 && !w->timed_out) {
			__atomic_store_n(&w->timed_out, 1, __ATOMIC_RELEASE);
			kill(-w->pgid, SIGKILL);
			continue;
		}
		if (p[0].revents) {
			ssize_t r = read(w->out, buf, sizeof(buf));

			if (r > 0)
				ring_put(w, buf, (size_t)r);
			else if (r == 0 || errno != EINTR)
				out_open = 0;
		}
		if (p[1].revents)
			break;
	}
	/* what the program wrote last, without waiting for writers that outlived it */
	fcntl(w->out, F_SETFL, O_NONBLOCK);
	for (;;) {
		ssize_t r = read(w->out, buf, sizeof(buf));

		if (r <= 0)
			break;
		ring_put(w, buf, (size_t)r);
	}
	return NULL;
}

/* Every task traced in this run (threads of the program, its children and theirs). */
struct tasks {
	int *tid;
	size_t n, cap;
};

static int task_index(const struct tasks *t, int tid)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->tid[i] == tid)
			return (int)i;
	return -1;
}

static int task_add(struct tasks *t, int tid)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		int *p = realloc(t->tid, cap * sizeof(*p));

		if (!p)
			return -1;
		t->tid = p;
		t->cap = cap;
	}
	t->tid[t->n++] = tid;
	return 0;
}

static void task_remove(struct tasks *t, int tid)
{
	int i = task_index(t, tid);

	if (i >= 0)
		t->tid[i] = t->tid[--t->n];
}

static void note_thread(struct kf_cmd_run *r, int tid)
{
	for (int i = 0; i < r->nthreads; i++)
		if (r->threads[i] == tid)
			return;
	if (r->nthreads < KF_CMD_MAX_THREADS)
		r->threads[r->nthreads++] = tid;
}

static void note_syscall(struct kf_cmd_run *r, int nr)
{
	if (nr < 0 || nr >= KF_CMD_MAX_SYSCALLS)
		return;
	if (r->counts[nr]++ == 0 && r->nordered < KF_CMD_MAX_SYSCALLS)
		r->order[r->nordered++] = nr;
}

static int write_text(int fd, const char *text)
{
	size_t len = strlen(text);

	return pwrite(fd, text, len, 0) == (ssize_t)len ? 0 : -1;
}

static long read_number(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/* The child, between fork and execve: async-signal-safe calls only (the parent is a
 * multi-threaded Node process). Signals as a fresh program expects them (Node ignores
 * SIGPIPE, and an ignored signal stays ignored across execve). */
static void __attribute__((noreturn)) run_child(const struct kf_cmd_opts *o, int devnull, int out,
						int errpipe, int cpu)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int err;

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			sigaction(s, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(devnull, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0 || chdir(o->cwd) < 0)
		goto fail;
	syscall(SYS_close_range, 3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
	if (cpu >= 0) {
		/* as the harness sweeps do (native/sweep.c): per-CPU slab state stays the same
		 * from one run to the next, so the numbering of fault points does too */
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
		goto fail;
	kill(getpid(), SIGSTOP);
	execve(o->path, o->argv, environ);
fail:
	err = errno;
	if (write(errpipe, &err, sizeof(err)) < 0) {
		/* the parent then reports the program as not started, with no errno */
	}
	_exit(127);
}

struct tracer {
	const struct kf_cmd_opts *o;
	struct kf_cmd_run *r;
	struct tasks tasks;
	int pid;
	int syscalls;  /* resume with PTRACE_SYSCALL (else PTRACE_CONT) */
	int armed_fd;  /* the armed thread's fail-nth, open */
	int armed_done;
};

static void resume(struct tracer *t, int tid, int sig)
{
	if (ptrace(t->syscalls ? PTRACE_SYSCALL : PTRACE_CONT, tid, NULL, (void *)(long)sig) < 0) {
		/* ESRCH: killed meanwhile (SIGKILL of the watchdog); its exit is reaped next */
	}
}

/* The armed call is over (its syscall-exit stop) or its thread is (PTRACE_EVENT_EXIT): read the
 * countdown back and reset it. */
static void disarm(struct tracer *t)
{
	long left = read_number(t->armed_fd);

	t->r->injected = left == 0;
	t->r->left = left;
	if (left != 0)
		write_text(t->armed_fd, "0");
	close(t->armed_fd);
	t->armed_fd = -1;
	t->armed_done = 1;
	t->syscalls = t->o->mode == KF_CMD_TRACE; /* nothing more to stop for */
}

static int arm(struct tracer *t, int tid, struct kf_error *e)
{
	char path[64], nth[16];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/fail-nth", t->pid, tid);
	/* a thread of a child process: its own /proc entry */
	if (access(path, F_OK) != 0)
		snprintf(path, sizeof(path), "/proc/%d/fail-nth", tid);
	t->armed_fd = open(path, O_RDWR | O_CLOEXEC);
	snprintf(nth, sizeof(nth), "%d", t->o->nth);
	if (t->armed_fd < 0 || write_text(t->armed_fd, nth) < 0) {
		kf_set_error(e, errno, t->armed_fd < 0 ? "open" : "write", path);
		if (t->armed_fd >= 0)
			close(t->armed_fd);
		t->armed_fd = -1;
		return -1;
	}
	t->r->reached = 1;
	t->r->tid = tid;
	return 0;
}

static int on_syscall_stop(struct tracer *t, int tid, struct kf_error *e)
{
	struct __ptrace_syscall_info info;
	struct kf_cmd_run *r = t->r;

	if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, (void *)sizeof(info), &info) <= 0)
		return 0;
	if (info.op == PTRACE_SYSCALL_INFO_ENTRY && r->started) {
		int nr = (int)info.entry.nr;

		note_syscall(r, nr);
		if (t->o->mode == KF_CMD_NTH && !r->reached && nr == t->o->sysno &&
		    (int)r->counts[nr] == t->o->call)
			return arm(t, tid, e);
	} else if (info.op == PTRACE_SYSCALL_INFO_EXIT && r->reached && !t->armed_done &&
		   tid == r->tid) {
		r->ret = info.exit.rval;
		disarm(t);
	}
	return 0;
}

/* A stop that is not a syscall stop nor a ptrace event: a signal for the tracee (re-injected),
 * or a group stop (no siginfo; resumed without a signal). */
static void on_signal_stop(struct tracer *t, int tid, int sig)
{
	siginfo_t si;

	resume(t, tid, ptrace(PTRACE_GETSIGINFO, tid, NULL, &si) < 0 ? 0 : sig);
}

static int on_stop(struct tracer *t, int tid, int status, struct kf_error *e)
{
	int sig = WSTOPSIG(status), event = (unsigned)status >> 16;

	if (task_index(&t->tasks, tid) < 0) {
		/* a new thread or child (PTRACE_O_TRACECLONE & co.): its first stop is a SIGSTOP */
		if (task_add(&t->tasks, tid) < 0) {
			kf_set_error(e, ENOMEM, "realloc", "");
			return -1;
		}
		note_thread(t->r, tid);
		resume(t, tid, sig == SIGSTOP ? 0 : sig);
		return 0;
	}
	if (sig == (SIGTRAP | 0x80)) {
		int ret = on_syscall_stop(t, tid, e);

		resume(t, tid, 0);
		return ret;
	}
	switch (event) {
	case PTRACE_EVENT_EXEC:
		if (!t->r->started) {
			t->r->started = 1;
			if (t->o->mode == KF_CMD_RANDOM) {
				char path[64];
				int fd;

				snprintf(path, sizeof(path), "/proc/%d/make-it-fail", tid);
				fd = open(path, O_WRONLY | O_CLOEXEC);
				if (fd < 0 || write_text(fd, "1") < 0) {
					kf_set_error(e, errno, fd < 0 ? "open" : "write", path);
					if (fd >= 0)
						close(fd);
					return -1;
				}
				close(fd);
				t->r->armed = 1;
			}
		}
		resume(t, tid, 0);
		return 0;
	case PTRACE_EVENT_EXIT:
		if (t->r->reached && !t->armed_done && tid == t->r->tid) {
			t->r->exited_in_call = 1;
			disarm(t);
		}
		resume(t, tid, 0);
		return 0;
	case PTRACE_EVENT_CLONE:
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK:
	case PTRACE_EVENT_VFORK_DONE:
		resume(t, tid, 0);
		return 0;
	default:
		on_signal_stop(t, tid, sig);
		return 0;
	}
}

/* Waits for every traced task until the program and all it started are gone. After the
 * program itself has exited, what it left behind (children, daemons) is killed. */
static int trace_loop(struct tracer *t, struct kf_error *e)
{
	int main_status = 0, main_done = 0, ret = 0;

	while (t->tasks.n) {
		int status, tid = waitpid(-1, &status, __WALL | __WNOTHREAD);

		if (tid < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD)
				break;
			kf_set_error(e, errno, "waitpid", "");
			return -1;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			task_remove(&t->tasks, tid);
			if (tid == t->pid) {
				main_status = status;
				main_done = 1;
				for (size_t i = 0; i < t->tasks.n; i++)
					kill(t->tasks.tid[i], SIGKILL);
			}
			continue;
		}
		if (WIFSTOPPED(status) && on_stop(t, tid, status, e) < 0 && !ret) {
			/* arming failed: end the run, report the error */
			ret = -1;
			kill(-t->pid, SIGKILL);
			kill(t->pid, SIGKILL);
		}
	}
	if (main_done) {
		t->r->exit_code = WIFEXITED(main_status) ? WEXITSTATUS(main_status) : -1;
		t->r->signal = WIFSIGNALED(main_status) ? WTERMSIG(main_status) : 0;
	}
	return ret;
}

static void output_tail(const struct watchdog *w, struct kf_cmd_run *r)
{
	long long start = w->total > KF_CMD_OUTPUT_MAX ? w->total - KF_CMD_OUTPUT_MAX : 0;

	r->output_total = w->total;
	r->output_len = (size_t)(w->total - start);
	for (long long i = start; i < w->total; i++)
		r->output[i - start] = w->ring[i % KF_CMD_OUTPUT_MAX];
}

int kf_command_run(const struct kf_cmd_opts *o, struct kf_cmd_run *r, struct kf_error *e)
{
	struct tracer t = { .o = o, .r = r, .armed_fd = -1 };
	struct watchdog *w = NULL;
	int out[2] = { -1, -1 }, wake[2] = { -1, -1 }, errpipe[2] = { -1, -1 };
	int devnull = -1, ret = -1, status, err = 0;
	pthread_t watcher;
	int watching = 0;
	long long t0;

	memset(r, 0, sizeof(*r));
	r->exit_code = -1;
	r->left = -1;
	if (!kf_in_guest(e))
		return -1;
	if (o->mode == KF_CMD_NTH && (o->nth < 1 || o->call < 1 || o->sysno < 0)) {
		kf_set_error(e, EINVAL, "command", o->path);
		snprintf(e->message, sizeof(e->message), "expected nth >= 1, call >= 1 and a syscall");
		return -1;
	}
	w = calloc(1, sizeof(*w));
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (!w || devnull < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(wake, O_CLOEXEC) < 0 ||
	    pipe2(errpipe, O_CLOEXEC) < 0) {
		kf_set_error(e, errno ? errno : ENOMEM, "pipe2", "");
		goto out;
	}
	t0 = now_ns();
	t.pid = fork();
	if (t.pid < 0) {
		kf_set_error(e, errno, "fork", o->path);
		goto out;
	}
	if (t.pid == 0)
		run_child(o, devnull, out[1], errpipe[1], sched_getcpu());
	r->pid = t.pid;
	close(out[1]);
	close(errpipe[1]);
	out[1] = errpipe[1] = -1;
	setpgid(t.pid, t.pid); /* the child does too: whichever runs first */

	/* the child's SIGSTOP, before its execve */
	if (waitpid(t.pid, &status, __WALL) != t.pid || !WIFSTOPPED(status)) {
		if (read(errpipe[0], &err, sizeof(err)) != sizeof(err))
			err = 0;
		r->exec_errno = err;
		r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		r->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
		ret = 0;
		goto out;
	}
	if (ptrace(PTRACE_SETOPTIONS, t.pid, NULL,
		   (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK |
				  PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT |
				  PTRACE_O_EXITKILL)) < 0) {
		kf_set_error(e, errno, "ptrace", "PTRACE_SETOPTIONS");
		kill(t.pid, SIGKILL);
		waitpid(t.pid, &status, __WALL);
		goto out;
	}
	w->out = out[0];
	w->wake = wake[0];
	w->pgid = t.pid;
	w->deadline_ns = t0 + o->timeout_ms * 1000000LL;
	if ((err = pthread_create(&watcher, NULL, watchdog_main, w)) != 0) {
		kf_set_error(e, err, "pthread_create", "");
		kill(t.pid, SIGKILL);
		waitpid(t.pid, &status, __WALL);
		goto out;
	}
	watching = 1;
	task_add(&t.tasks, t.pid);
	note_thread(r, t.pid);
	t.syscalls = o->mode != KF_CMD_RANDOM;
	resume(&t, t.pid, 0);
	ret = trace_loop(&t, e);
	if (!r->started) {
		if (read(errpipe[0], &err, sizeof(err)) != sizeof(err))
			err = 0;
		r->exec_errno = err;
	}
	if (t.armed_fd >= 0)
		disarm(&t); /* never left armed: the thread is gone, but say what it read */
	r->ns = now_ns() - t0;
out:
	if (watching) {
		char byte = 0;

		if (write(wake[1], &byte, 1) < 0) {
			/* cannot happen: a pipe with room for a byte */
		}
		pthread_join(watcher, NULL);
		r->timed_out = w->timed_out;
		output_tail(w, r);
	}
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (wake[i] >= 0)
			close(wake[i]);
		if (errpipe[i] >= 0)
			close(errpipe[i]);
	}
	if (devnull >= 0)
		close(devnull);
	free(t.tasks.tid);
	free(w);
	return ret;
}
