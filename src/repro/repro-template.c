/* kfault reproducer: the driver part. `kfault repro` fills in the @@...@@ markers (the header,
 * the harness, this problem's settings, native/kmsg.c's kernel-log reader) and writes one
 * standalone C file; nothing here needs kfault, Node or the addon. The step itself mirrors
 * native/sweep.c: setup, an unarmed warm-up run, then fail-nth armed around one run, read back,
 * disarmed; pinned to one CPU, with the thread named kf-setup, kf#<nth>, kf-teardown as kfault
 * names it. */
/*@@HARNESS@@*/

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A debugfs attribute (relative to /sys/kernel/debug) or an absolute path, and its value.
 * cond: written only when this file exists (NULL: always; the kernel must have it). */
struct kfr_setting {
	const char *path;
	const char *value;
	const char *cond;
};

/* A stack-filter range given by function names: [start of first, end of last), resolved here
 * through /proc/kallsyms, written to <injector>/<kind>-start and -end. */
struct kfr_range {
	const char *injector;
	const char *kind; /* "require" or "reject" */
	const char *first;
	const char *last;
};

/*@@DATA@@*/

#define KFR_DEBUGFS "/sys/kernel/debug"
#define KFR_KMEMLEAK KFR_DEBUGFS "/kmemleak"
#define KFR_FAIL_NTH "/proc/thread-self/fail-nth"
#define KFR_GUEST_MARKER "kfault.guest=1"
#define KFR_MAX_SAVED 64

static void kfr_say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("kfault-repro: ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	fflush(stdout);
	va_end(ap);
}

static void __attribute__((noreturn)) kfr_die(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fflush(stdout);
	fputs("kfault-repro: error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(status);
}

static const char *kfr_abs(const char *path, char *buf, size_t len)
{
	if (path[0] == '/')
		return path;
	snprintf(buf, len, "%s/%s", KFR_DEBUGFS, path);
	return buf;
}

static int kfr_exists(const char *path)
{
	char buf[512];

	return access(kfr_abs(path, buf, sizeof(buf)), F_OK) == 0;
}

/* A file's value with whitespace runs made single spaces, as kfault compares them. */
static int kfr_read(const char *path, char *out, size_t len)
{
	char buf[512], raw[4096];
	ssize_t n;
	size_t o = 0;
	int fd = open(kfr_abs(path, buf, sizeof(buf)), O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, raw, sizeof(raw) - 1);
	close(fd);
	if (n < 0)
		return -1;
	raw[n] = '\0';
	for (char *save, *tok = strtok_r(raw, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
		int w = snprintf(out + o, len - o, "%s%s", o ? " " : "", tok);

		if (w < 0 || (size_t)w >= len - o)
			break;
		o += (size_t)w;
	}
	out[o < len ? o : len - 1] = '\0';
	return 0;
}

static int kfr_write(const char *path, const char *value)
{
	char buf[512];
	int fd = open(kfr_abs(path, buf, sizeof(buf)), O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, value, strlen(value));
	close(fd);
	return n == (ssize_t)strlen(value) ? 0 : -1;
}

/* --- the previous values of everything written, put back on exit (and on SIGINT/SIGTERM) */
static struct {
	char path[128];
	char value[128];
} kfr_saved[KFR_MAX_SAVED];
static int kfr_nsaved;
static int kfr_restart_scan; /* kmemleak's scan thread ran before: turn it back on */
static int kfr_kmemleak_touched;

static void kfr_save(const char *path)
{
	char value[128];

	for (int i = 0; i < kfr_nsaved; i++)
		if (strcmp(kfr_saved[i].path, path) == 0)
			return;
	if (kfr_nsaved == KFR_MAX_SAVED || kfr_read(path, value, sizeof(value)) < 0)
		return;
	snprintf(kfr_saved[kfr_nsaved].path, sizeof(kfr_saved[0].path), "%s", path);
	snprintf(kfr_saved[kfr_nsaved].value, sizeof(kfr_saved[0].value), "%s", value);
	kfr_nsaved++;
}

static void kfr_restore(void)
{
	int wrong = 0, restored = 0;

	for (int i = kfr_nsaved - 1; i >= 0; i--) {
		char now[128];

		if (kfr_read(kfr_saved[i].path, now, sizeof(now)) == 0 && strcmp(now, kfr_saved[i].value) == 0)
			continue;
		if (kfr_write(kfr_saved[i].path, kfr_saved[i].value) < 0) {
			fprintf(stderr, "kfault-repro: could not restore %s to '%s': %s\n", kfr_saved[i].path,
				kfr_saved[i].value, strerror(errno));
			wrong++;
		} else {
			restored++;
		}
	}
	if (kfr_nsaved)
		kfr_say("restored the fault-injection settings (%d of %d values had changed)%s", restored,
			kfr_nsaved, wrong ? "; SOME COULD NOT BE RESTORED" : "");
	kfr_nsaved = 0;
}

/* kmemleak's scan settings cannot be read back: stack=on is its default, and the scan thread
 * is turned back on when it ran before. */
static void kfr_restore_kmemleak(void)
{
	if (!kfr_kmemleak_touched)
		return;
	kfr_kmemleak_touched = 0;
	kfr_write(KFR_KMEMLEAK, "stack=on");
	if (kfr_restart_scan)
		kfr_write(KFR_KMEMLEAK, "scan=on");
}

static void kfr_restore_all(void)
{
	kfr_restore();
	kfr_restore_kmemleak();
}

static void kfr_on_signal(int sig)
{
	kfr_restore_all();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* --- /proc/kallsyms */
struct kfr_sym {
	unsigned long long addr;
	char name[128];
};
static struct kfr_sym *kfr_syms;
static size_t kfr_nsyms;

static void kfr_load_kallsyms(void)
{
	FILE *f;
	char line[512];
	size_t cap = 0;

	if (kfr_syms)
		return;
	f = fopen("/proc/kallsyms", "re");
	if (!f)
		kfr_die(3, "/proc/kallsyms: %s (CONFIG_KALLSYMS)", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned long long addr;
		char type, name[128];

		if (sscanf(line, "%llx %c %127s", &addr, &type, name) != 3)
			continue;
		if (kfr_nsyms == cap) {
			cap = cap ? cap * 2 : 65536;
			kfr_syms = realloc(kfr_syms, cap * sizeof(*kfr_syms));
			if (!kfr_syms)
				kfr_die(3, "out of memory reading /proc/kallsyms");
		}
		kfr_syms[kfr_nsyms].addr = addr;
		snprintf(kfr_syms[kfr_nsyms].name, sizeof(kfr_syms[0].name), "%s", name);
		kfr_nsyms++;
	}
	fclose(f);
}

/* The first symbol of that name, as kfault takes it; 0 when absent (or hidden: not root). */
static unsigned long long kfr_symbol(const char *name)
{
	kfr_load_kallsyms();
	for (size_t i = 0; i < kfr_nsyms; i++)
		if (strcmp(kfr_syms[i].name, name) == 0)
			return kfr_syms[i].addr;
	return 0;
}

/* [start of first, the next symbol's address after last), or a message saying what is wrong. */
static const char *kfr_resolve(const char *first, const char *last, unsigned long long *start,
			       unsigned long long *end)
{
	static char why[256];
	unsigned long long last_start, next = 0;

	*start = kfr_symbol(first);
	if (!*start) {
		snprintf(why, sizeof(why), "no symbol '%s' in this kernel's /proc/kallsyms", first);
		return why;
	}
	last_start = kfr_symbol(last);
	if (!last_start) {
		snprintf(why, sizeof(why), "no symbol '%s' in this kernel's /proc/kallsyms", last);
		return why;
	}
	for (size_t i = 0; i < kfr_nsyms; i++)
		if (kfr_syms[i].addr > last_start && (!next || kfr_syms[i].addr < next))
			next = kfr_syms[i].addr;
	if (!next) {
		snprintf(why, sizeof(why), "cannot tell where '%s' ends", last);
		return why;
	}
	if (next <= *start) {
		snprintf(why, sizeof(why), "'%s' comes before '%s' in the kernel's text", last, first);
		return why;
	}
	*end = next;
	return NULL;
}

/* --- the settings of the sweep, in the order kfault wrote them */
struct kfr_write {
	char path[128];
	char value[128];
};
static struct kfr_write kfr_plan[KFR_MAX_SAVED];
static int kfr_nplan;

static void kfr_add(const char *path, const char *value)
{
	if (kfr_nplan == KFR_MAX_SAVED)
		kfr_die(3, "too many settings");
	snprintf(kfr_plan[kfr_nplan].path, sizeof(kfr_plan[0].path), "%s", path);
	snprintf(kfr_plan[kfr_nplan].value, sizeof(kfr_plan[0].value), "%s", value);
	kfr_nplan++;
}

static void kfr_add_range(const char *injector, const char *kind, unsigned long long start,
			  unsigned long long end)
{
	char path[128], value[32];

	snprintf(path, sizeof(path), "%s/%s-start", injector, kind);
	snprintf(value, sizeof(value), "0x%llx", start);
	kfr_add(path, value);
	snprintf(path, sizeof(path), "%s/%s-end", injector, kind);
	snprintf(value, sizeof(value), "0x%llx", end);
	kfr_add(path, value);
}

/* kfault's slab refill filter (src/guest/refill-filter.ts): fail_page_alloc rejects SLUB's
 * new_slab (allocate_slab where it is not inlined), so a slab refill is never a counted point
 * and the nth here is the nth of kfault's sweep. 1 when planned. */
static int kfr_plan_refill_filter(void)
{
	static const char *const symbols[] = { "allocate_slab", "new_slab" };
	unsigned long long start, end;
	char value[64];

	if (!kfr_exists("fail_page_alloc/reject-start")) {
		kfr_say("slab refills counted: the kernel lacks CONFIG_FAULT_INJECTION_STACKTRACE_FILTER");
		return 0;
	}
	for (size_t i = 0; i < sizeof(kfr_ranges) / sizeof(kfr_ranges[0]); i++)
		if (kfr_ranges[i].injector && strcmp(kfr_ranges[i].injector, "fail_page_alloc") == 0 &&
		    strcmp(kfr_ranges[i].kind, "reject") == 0) {
			kfr_say("slab refills counted: a fail_page_alloc reject range of your own is set");
			return 0;
		}
	if ((kfr_read("fail_page_alloc/reject-start", value, sizeof(value)) == 0 && strtoull(value, NULL, 0) != 0) ||
	    (kfr_read("fail_page_alloc/reject-end", value, sizeof(value)) == 0 && strtoull(value, NULL, 0) != 0)) {
		kfr_say("slab refills counted: a fail_page_alloc reject range is already set on this machine");
		return 0;
	}
	for (int i = 0; i < 2; i++) {
		if (kfr_resolve(symbols[i], symbols[i], &start, &end))
			continue;
		kfr_add_range("fail_page_alloc", "reject", start, end);
		kfr_say("slab refills not counted: fail_page_alloc rejects %s (0x%llx-0x%llx), as in the sweep", symbols[i], start, end);
		return 1;
	}
	kfr_say("slab refills counted: neither allocate_slab nor new_slab is in /proc/kallsyms");
	return 0;
}

/* kfault's kmemleak filter (src/guest/kmemleak-filter.ts): the stack filter rejects kmemleak's
 * own text for failslab and fail_page_alloc, so no injected fault is spent in kmemleak (with the
 * refill filter, fail_page_alloc's range is new_slab's, and kmemleak's pages come from slab
 * refills). */
static void kfr_plan_kmemleak_filter(int refills)
{
	static const char *const injectors[] = { "failslab", "fail_page_alloc" };
	unsigned long long start, end;
	const char *why;
	int fd = open(KFR_KMEMLEAK, O_RDONLY | O_CLOEXEC);
	int user_rejects = 0;

	if (fd >= 0)
		close(fd);
	if (!kfr_kmemleak_filter_wanted) {
		kfr_say("kmemleak filter: off (%s), as in the sweep", kfr_kmemleak_filter_why);
		return;
	}
	if (fd < 0) {
		kfr_say("kmemleak filter: not needed: kmemleak is off");
		return;
	}
	if (kfr_symbol("fault_inject_disable")) {
		kfr_say("kmemleak filter: not needed: this kernel keeps kmemleak's allocations out of fault injection (fault_inject_disable)");
		return;
	}
	if (!kfr_kmemleak_first) {
		kfr_say("kmemleak filter: off: %s", kfr_kmemleak_filter_why);
		return;
	}
	for (int i = 0; i < 2; i++) {
		char path[128], value[64];

		snprintf(path, sizeof(path), "%s/reject-start", injectors[i]);
		if (!kfr_exists(path)) {
			kfr_say("kmemleak filter: cannot be applied: the kernel lacks CONFIG_FAULT_INJECTION_STACKTRACE_FILTER (no reject-start in debugfs)");
			return;
		}
		for (int k = 0; k < 2; k++) {
			snprintf(path, sizeof(path), "%s/reject-%s", injectors[i], k ? "end" : "start");
			if (kfr_read(path, value, sizeof(value)) == 0 && strtoull(value, NULL, 0) != 0) {
				kfr_say("kmemleak filter: cannot be applied: a reject range of your own is set (%s=%s)", path, value);
				user_rejects++;
			}
		}
	}
	for (size_t i = 0; i < sizeof(kfr_ranges) / sizeof(kfr_ranges[0]); i++)
		if (kfr_ranges[i].injector && strcmp(kfr_ranges[i].kind, "reject") == 0)
			user_rejects++;
	if (user_rejects) {
		kfr_say("kmemleak filter: cannot be applied: a reject range of your own is set");
		return;
	}
	why = kfr_resolve(kfr_kmemleak_first, kfr_kmemleak_last, &start, &end);
	if (why) {
		kfr_say("kmemleak filter: cannot be applied: %s", why);
		return;
	}
	for (int i = 0; i < (refills ? 1 : 2); i++)
		kfr_add_range(injectors[i], "reject", start, end);
	kfr_say("kmemleak filter: on: the stack filter rejects kmemleak's text 0x%llx-0x%llx (%s..%s) for %s",
		start, end, kfr_kmemleak_first, kfr_kmemleak_last, refills ? "failslab (fail_page_alloc: slab refills)" : "failslab and fail_page_alloc");
}

static void kfr_make_plan(void)
{
	for (size_t i = 0; i < sizeof(kfr_settings) / sizeof(kfr_settings[0]); i++) {
		const struct kfr_setting *s = &kfr_settings[i];

		if (!s->path)
			continue;
		if (s->cond && !kfr_exists(s->cond))
			continue;
		if (!kfr_exists(s->path))
			kfr_die(3, "%s%s does not exist: this kernel lacks what the sweep used (see the config fragment at the top of this file)",
				s->path[0] == '/' ? "" : KFR_DEBUGFS "/", s->path);
		kfr_add(s->path, s->value);
	}
	kfr_plan_kmemleak_filter(kfr_plan_refill_filter());
	/* the user's knobs last: kfault writes them over the mode's settings */
	for (size_t i = 0; i < sizeof(kfr_user_settings) / sizeof(kfr_user_settings[0]); i++)
		if (kfr_user_settings[i].path)
			kfr_add(kfr_user_settings[i].path, kfr_user_settings[i].value);
	for (size_t i = 0; i < sizeof(kfr_ranges) / sizeof(kfr_ranges[0]); i++) {
		const struct kfr_range *r = &kfr_ranges[i];
		unsigned long long start, end;
		const char *why;

		if (!r->injector)
			continue;
		why = kfr_resolve(r->first, r->last, &start, &end);
		if (why)
			kfr_die(3, "faults.%s.%s: %s", r->injector, r->kind, why);
		kfr_add_range(r->injector, r->kind, start, end);
	}
}

static void kfr_apply_plan(void)
{
	static const char *const counted[] = { "failslab/times", "fail_page_alloc/times", "fail_usercopy/times", "fail_futex/times" };

	for (int i = 0; i < kfr_nplan; i++)
		kfr_save(kfr_plan[i].path);
	/* fail-nth counts times down on every injection: put it back too */
	for (size_t i = 0; i < sizeof(counted) / sizeof(counted[0]); i++)
		if (kfr_exists(counted[i]))
			kfr_save(counted[i]);
	atexit(kfr_restore_all);
	signal(SIGINT, kfr_on_signal);
	signal(SIGTERM, kfr_on_signal);
	signal(SIGHUP, kfr_on_signal);
	for (int i = 0; i < kfr_nplan; i++) {
		if (kfr_write(kfr_plan[i].path, kfr_plan[i].value) < 0)
			kfr_die(3, "writing '%s' to %s: %s", kfr_plan[i].value, kfr_plan[i].path, strerror(errno));
		kfr_say("set %s = %s", kfr_plan[i].path, kfr_plan[i].value);
	}
}

/* --- the kernel log: native/kmsg.c's reader (kf_kmsg_open, kf_kmsg_drain), as kfault reads it */
/*@@KMSG@@*/

static int kfr_kmsg_open(void)
{
	return kf_kmsg_open(0);
}

struct kfr_log {
	char **log;
	size_t *len;
};

static void kfr_keep_record(void *opaque, unsigned long long usec, const char *text, size_t tl)
{
	struct kfr_log *l = opaque;
	char *grown = realloc(*l->log, *l->len + tl + 1);

	(void)usec;
	if (!grown)
		return;
	*l->log = grown;
	memcpy(*l->log + *l->len, text, tl);
	*l->len += tl;
	(*l->log)[*l->len] = '\0';
}

/* Appends the message texts logged since the last call, one per line. */
static void kfr_kmsg_drain(int fd, char **log, size_t *len)
{
	struct kfr_log l = { log, len };

	if (fd >= 0)
		kf_kmsg_drain(fd, kfr_keep_record, &l);
}

/* --- the step, in a child process of its own (so that an oops or a crash of the harness
 * leaves this process to restore the settings and say what happened) */
struct kfr_result {
	int nth;
	int ret;
	long left;
};

static void kfr_pin_to_this_cpu(void)
{
	int cpu = sched_getcpu();
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static int kfr_write_nth(int fd, unsigned int nth)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", nth);

	return pwrite(fd, buf, len, 0) == len ? 0 : -1;
}

static long kfr_read_nth(int fd)
{
	char buf[16];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n < 0 && errno == EFAULT)
		return -2; /* the countdown ran out in this very read (fail_usercopy) */
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

static void kfr_print_log(const char *what, const char *log)
{
	printf("---- kernel log of %s ----\n%s", what, log && *log ? log : "(nothing)\n");
	if (log && *log && log[strlen(log) - 1] != '\n')
		putchar('\n');
	printf("---- end of the kernel log of %s ----\n", what);
	fflush(stdout);
}

static void __attribute__((noreturn)) kfr_child(int out, const char *dir, int from, int nth)
{
	char name[16], what[32], *log = NULL;
	size_t len = 0;
	int fd, kmsg, ret;

	fd = open(KFR_FAIL_NTH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "kfault-repro: %s: %s (CONFIG_FAULT_INJECTION)\n", KFR_FAIL_NTH, strerror(errno));
		_exit(3);
	}
	kmsg = kfr_kmsg_open();
	kfr_pin_to_this_cpu();
	prctl(PR_SET_NAME, "kf-setup");
	ret = kfr_harness_setup(dir);
	if (ret < 0) {
		fprintf(stderr, "kfault-repro: the harness's setup failed: %s\n", strerror(-ret));
		_exit(3);
	}
	/* the unarmed run: it must succeed, and it warms up what the armed run touches */
	ret = kfr_harness_run(dir);
	kfr_harness_release(dir);
	if (ret < 0) {
		fprintf(stderr, "kfault-repro: the harness fails with no fault injected: %s\n", strerror(-ret));
		_exit(3);
	}
	for (int step = from; step <= nth; step++) {
		struct kfr_result r = { .nth = step };

		snprintf(name, sizeof(name), "kf#%d", step);
		prctl(PR_SET_NAME, name);
		kfr_kmsg_drain(kmsg, &log, &len);
		len = 0; /* what was logged before the step is not the step's */
		if (log)
			log[0] = '\0';
		if (kfr_write_nth(fd, (unsigned int)step) < 0) {
			fprintf(stderr, "kfault-repro: write %s: %s\n", KFR_FAIL_NTH, strerror(errno));
			_exit(3);
		}
		r.ret = kfr_harness_run(dir);
		r.left = kfr_read_nth(fd);
		if (r.left != 0)
			kfr_write_nth(fd, 0);
		kfr_harness_release(dir);
		kfr_kmsg_drain(kmsg, &log, &len);
		snprintf(what, sizeof(what), "step nth=%d", step);
		kfr_print_log(what, log);
		if (write(out, &r, sizeof(r)) != sizeof(r))
			_exit(3);
		if (r.left != 0)
			break; /* nothing was injected: the harness has no more failure points */
	}
	prctl(PR_SET_NAME, "kf-teardown");
	kfr_harness_teardown(dir);
	kfr_write_nth(fd, 0);
	_exit(0);
}

/* --- what the kernel said */
static const char *const kfr_problem_starts[] = { "WARNING: ", "BUG: ", "Oops: ", "kernel BUG at ",
						  "general protection fault", "KASAN: ", "UBSAN: ",
						  "Kernel panic - ", NULL };

/* The first line of log (message texts) that starts a problem report; copied to out. */
static int kfr_find_problem(const char *log, const char *prefix, char *out, size_t len)
{
	for (const char *l = log; l && *l;) {
		const char *e = strchr(l, '\n');
		size_t n = e ? (size_t)(e - l) : strlen(l);

		for (int i = 0; kfr_problem_starts[i]; i++) {
			size_t pl = strlen(kfr_problem_starts[i]);

			if (n >= pl && strncmp(l, kfr_problem_starts[i], pl) == 0 &&
			    (!prefix || (n >= strlen(prefix) && strncmp(l, prefix, strlen(prefix)) == 0))) {
				snprintf(out, len, "%.*s", (int)n, l);
				return 1;
			}
		}
		l = e ? e + 1 : NULL;
	}
	return 0;
}

/* "... at FILE:LINE warny+0x53/0x82 [mod]": does the line name the function fn (as fn+0x...)? */
static int kfr_names_function(const char *line, const char *fn)
{
	size_t fl = strlen(fn);

	for (const char *p = strstr(line, fn); p; p = strstr(p + 1, fn))
		if ((p == line || p[-1] == ' ' || p[-1] == ':') && p[fl] == '+')
			return 1;
	return 0;
}

static long long kfr_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int kfr_kmemleak(const char *cmd)
{
	if (kfr_write(KFR_KMEMLEAK, cmd) < 0) {
		fprintf(stderr, "kfault-repro: kmemleak: %s: %s%s\n", cmd, strerror(errno),
			errno == EPERM || errno == EBUSY ? " (kmemleak has disabled itself: see the kernel log)" : "");
		return -1;
	}
	return 0;
}

/* Any task named "kmemleak": the automatic scan thread runs. */
static int kfr_scan_thread_runs(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int found = 0;

	if (!d)
		return 0;
	while (!found && (e = readdir(d))) {
		char path[300], comm[64];

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		if (kfr_read(path, comm, sizeof(comm)) == 0 && strcmp(comm, "kmemleak") == 0)
			found = 1;
	}
	closedir(d);
	return found;
}

/* kmemleak's report, and whether an object the step (comm kf#<nth>) allocated has the leak's
 * allocation site in its backtrace (function names: offsets differ from one build to another). */
static int kfr_leak_report(int nth)
{
	char comm[32];
	int fd = open(KFR_KMEMLEAK, O_RDONLY | O_CLOEXEC), found = 0;
	char *text = NULL;
	size_t len = 0, cap = 0;

	if (fd < 0) {
		fprintf(stderr, "kfault-repro: %s: %s\n", KFR_KMEMLEAK, strerror(errno));
		return -1;
	}
	for (;;) {
		ssize_t n;

		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			text = realloc(text, cap);
			if (!text)
				kfr_die(3, "out of memory reading kmemleak's report");
		}
		n = read(fd, text + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (!text)
		text = strdup("");
	text[len] = '\0';
	printf("---- kmemleak report ----\n%s%s---- end of the kmemleak report ----\n", text,
	       len && text[len - 1] != '\n' ? "\n" : "");
	fflush(stdout);
	snprintf(comm, sizeof(comm), "comm \"kf#%d\"", nth);
	for (char *obj = strstr(text, "unreferenced object "); obj;) {
		char *next = strstr(obj + 1, "unreferenced object ");
		char save = 0;

		if (next) {
			save = *next;
			*next = '\0';
		}
		if (strstr(obj, comm) && (!kfr_leak_site || kfr_names_function(obj, kfr_leak_site)) &&
		    (!kfr_leak_caller || kfr_names_function(obj, kfr_leak_caller)))
			found++;
		if (next)
			*next = save;
		obj = next;
	}
	free(text);
	return found;
}

static int kfr_in_kfault_guest(void)
{
	char line[4096];
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	line[n] = '\0';
	for (char *save, *tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
		if (strcmp(tok, KFR_GUEST_MARKER) == 0)
			return 1;
	return 0;
}

static void kfr_usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"usage: %s --yes-inject [--nth N] [--from K] [--dir DIR]\n"
		"  --yes-inject  arm fault injection on THIS machine's kernel (needed unless the kernel\n"
		"                command line has " KFR_GUEST_MARKER ", as kfault's guests do)\n"
		"  --nth N       the failure point to arm (default: %d, where kfault saw the problem)\n"
		"  --from K      arm K, K+1, ..., N in turn (as kfault's sweep did from 1), not only N\n"
		"  --dir DIR     the harness's work directory (default: a new one under /run or /dev/shm)\n"
		"exit status: 1 the problem reproduced, 0 it did not, 2 usage or refused, 3 setup error\n",
		argv0, kfr_nth);
}

int main(int argc, char **argv)
{
	int yes = 0, nth = kfr_nth, from = 0, pipefd[2], status, kmsg, reproduced = 0, injected = 0;
	char dirbuf[256] = "", *dir = NULL, *log = NULL, line[1024];
	size_t loglen = 0;
	long long step_end;
	pid_t pid;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--yes-inject") == 0)
			yes = 1;
		else if (strcmp(argv[i], "--nth") == 0 && i + 1 < argc)
			nth = atoi(argv[++i]);
		else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
			from = atoi(argv[++i]);
		else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			kfr_usage(stdout, argv[0]);
			return 0;
		} else {
			kfr_usage(stderr, argv[0]);
			return 2;
		}
	}
	if (nth < 1 || (from && (from < 1 || from > nth))) {
		kfr_usage(stderr, argv[0]);
		return 2;
	}
	if (!from)
		from = nth;
	setvbuf(stdout, NULL, _IOLBF, 0);
	kfr_say("%s", kfr_title);
	if (!yes && !kfr_in_kfault_guest()) {
		fprintf(stderr,
			"kfault-repro: WARNING: this program injects allocation failures into the running kernel\n"
			"kfault-repro: (fail-nth, failslab, fail_page_alloc) and makes it run a buggy error path: it may\n"
			"kfault-repro: leak kernel memory, oops, panic or hang THIS machine, and it clears kmemleak's list.\n"
			"kfault-repro: Run it only on a test machine or VM, as root, with --yes-inject to go ahead.\n"
			"kfault-repro: refusing: no --yes-inject, and no " KFR_GUEST_MARKER " on the kernel command line\n");
		return 2;
	}
	if (geteuid() != 0)
		kfr_die(2, "run it as root (it writes to debugfs and /proc/thread-self/fail-nth)");
	if (!kfr_exists("failslab") && mount("debugfs", KFR_DEBUGFS, "debugfs", 0, NULL) == 0)
		kfr_say("mounted debugfs on " KFR_DEBUGFS);
	if (!kfr_exists("failslab"))
		kfr_die(3, KFR_DEBUGFS "/failslab does not exist: this kernel lacks CONFIG_FAILSLAB or CONFIG_FAULT_INJECTION_DEBUG_FS (see the config fragment at the top of this file)");
	if (access(KFR_FAIL_NTH, F_OK) < 0)
		kfr_die(3, KFR_FAIL_NTH " does not exist: this kernel lacks CONFIG_FAULT_INJECTION");
	{
		char release[128];

		if (kfr_read("/proc/sys/kernel/osrelease", release, sizeof(release)) == 0 && strcmp(release, kfr_kernel) != 0)
			kfr_say("note: kfault saw this on kernel %s; this one is %s (step numbers can differ)", kfr_kernel, release);
	}
	for (size_t i = 0; i < sizeof(kfr_modules) / sizeof(kfr_modules[0]); i++) {
		char path[128];

		if (!kfr_modules[i])
			continue;
		snprintf(path, sizeof(path), "/sys/module/%s", kfr_modules[i]);
		if (access(path, F_OK) < 0)
			kfr_die(3, "the module %s is not loaded: load it first (insmod %s.ko)", kfr_modules[i], kfr_modules[i]);
	}
	if (!dir) {
		static const char *const bases[] = { "/run", "/dev/shm", "/tmp" };

		for (size_t i = 0; i < 3 && !dir; i++) {
			snprintf(dirbuf, sizeof(dirbuf), "%s/kfault-repro.XXXXXX", bases[i]);
			dir = mkdtemp(dirbuf);
		}
		if (!dir)
			kfr_die(3, "cannot make a work directory: %s", strerror(errno));
	}
	{
		struct statfs fs;

		if (statfs(dir, &fs) == 0 && fs.f_type != 0x01021994 /* TMPFS_MAGIC */)
			kfr_say("note: %s is not on tmpfs; kfault's work dir was (harnesses on files may count differently)", dir);
	}

	kfr_make_plan();
	kfr_apply_plan();
	if (access(KFR_KMEMLEAK, F_OK) == 0) {
		/* as kfault's agent starts: no automatic scans while the harness runs */
		kfr_restart_scan = kfr_scan_thread_runs();
		kfr_kmemleak_touched = 1;
		if (kfr_kmemleak("scan=off") == 0)
			kfr_say("kmemleak: scan thread stopped (scan=off)%s", kfr_restart_scan ? "; turned back on at exit" : "");
		if (kfr_is_leak) {
			if (kfr_kmemleak("clear") < 0)
				kfr_die(3, "kmemleak cannot run, so a leak cannot be checked");
			kfr_say("kmemleak: clear (what was unreferenced before is not reported)");
		}
	} else if (kfr_is_leak) {
		kfr_die(3, KFR_KMEMLEAK " does not exist: this kernel lacks CONFIG_DEBUG_KMEMLEAK (or it is off: kmemleak=off)");
	}

	kmsg = kfr_kmsg_open();
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		kfr_die(3, "pipe2: %s", strerror(errno));
	kfr_say("harness %s: setup, one unarmed run, then fail-nth=%d%s around one run (in work dir %s)", kfr_harness_name, nth,
		from < nth ? " (from the lower ones up)" : "", dir);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		kfr_die(3, "fork: %s", strerror(errno));
	if (pid == 0) {
		close(pipefd[0]);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		kfr_child(pipefd[1], dir, from, nth);
	}
	close(pipefd[1]);
	for (;;) {
		struct kfr_result r;
		ssize_t n = read(pipefd[0], &r, sizeof(r));

		if (n < 0 && errno == EINTR)
			continue;
		if (n != sizeof(r))
			break;
		if (r.nth == nth)
			injected = r.left == 0;
		if (r.ret < 0)
			snprintf(line, sizeof(line), "-%d (%s)", -r.ret, strerror(-r.ret));
		else
			snprintf(line, sizeof(line), "0");
		kfr_say("nth=%d: %s; the run returned %s", r.nth,
			r.left == 0 ? "the fault was injected" : r.left == -2 ? "the countdown ran out in the read-back (the run ended before it)" : "nothing was injected (the harness has fewer failure points)",
			line);
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	step_end = kfr_now_ms();
	if (WIFSIGNALED(status))
		kfr_say("the harness process was killed by signal %d (%s) during the armed run: the kernel oopsed in it, or the harness crashed",
			WTERMSIG(status), strsignal(WTERMSIG(status)));
	else if (WEXITSTATUS(status) != 0)
		kfr_die(3, "the harness process failed (status %d)", WEXITSTATUS(status));
	if (kfr_expected_site)
		kfr_say("kfault's sweep injected the fault at %s", kfr_expected_site);
	if (!injected && !WIFSIGNALED(status))
		kfr_say("note: fail-nth=%d was not reached", nth);

	kfr_kmsg_drain(kmsg, &log, &loglen);
	if (kfr_is_leak) {
		int found;

		kfr_restore(); /* nothing is armed from here on */
		kfr_say("kmemleak: scan (task stacks off), wait until the step's objects are 5 s old, scan again");
		if (kfr_kmemleak("stack=off") < 0 || kfr_kmemleak("scan") < 0)
			kfr_die(3, "kmemleak cannot run, so the leak cannot be checked");
		while (kfr_now_ms() < step_end + 5500)
			usleep(100000);
		if (kfr_kmemleak("stack=off") < 0 || kfr_kmemleak("scan") < 0)
			kfr_die(3, "kmemleak cannot run, so the leak cannot be checked");
		found = kfr_leak_report(nth);
		if (found > 0) {
			kfr_say("REPRODUCED: leak: %d object(s) allocated by the step (comm kf#%d) at %s", found, nth, kfr_expected_leak);
			reproduced = 1;
		} else {
			kfr_say("NOT REPRODUCED: no object allocated by the step (comm kf#%d) at %s is unreferenced", nth, kfr_expected_leak);
		}
	} else if (kfr_is_warning) {
		/* the same WARNING: the same function (its file and line can move between builds) */
		if (kfr_find_problem(log, "WARNING: ", line, sizeof(line)) && kfr_names_function(line, kfr_problem_function)) {
			kfr_say("REPRODUCED: %s", line);
			reproduced = 1;
		} else {
			kfr_say("NOT REPRODUCED: no WARNING in %s in the kernel log (kfault saw: %s)", kfr_problem_function, kfr_expected_problem);
		}
	} else {
		/* the same oops title; with oops=panic (as kfault boots) the machine is down before this */
		if (kfr_find_problem(log, kfr_expected_problem, line, sizeof(line))) {
			kfr_say("REPRODUCED: %s", line);
			reproduced = 1;
		} else if (kfr_find_problem(log, NULL, line, sizeof(line))) {
			kfr_say("NOT REPRODUCED: the kernel logged \"%s\", not \"%s\"", line, kfr_expected_problem);
		} else {
			kfr_say("NOT REPRODUCED: the kernel logged no oops (kfault saw: %s)", kfr_expected_problem);
		}
	}
	kfr_restore_all();
	if (dir == dirbuf)
		rmdir(dir);
	return reproduced ? 1 : 0;
}
