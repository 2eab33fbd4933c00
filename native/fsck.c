/* fsck as a verdict: after a step that injected faults while a scratch disk with a filesystem
 * is attached, the sweep loop (native/sweep.c) unmounts it and asks e2fsck -fn whether the
 * step left it damaged, then mounts it back, all before the next step arms anything.
 *
 * The journal: a step that failed inside ext4 can leave its journal needing recovery, and
 * e2fsck -n skips recovery ("skipping journal recovery because doing a read-only filesystem
 * check") and then reports as damage what a replay would have fixed. So a disk whose superblock
 * says it needs recovery is first mounted and unmounted, unarmed: the kernel replays it, as it
 * would at the next boot. e2fsck is started with posix_spawn (vfork + exec, as node-pty does),
 * never in a fork of the threaded agent, and waited for with a time limit. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kfault.h"

#define E2FSCK "/usr/sbin/e2fsck"
#define KF_FSCK_TIMEOUT_MS 60000

/* ext2/3/4 superblock, at byte 1024 of the device */
#define SB_OFFSET 1024
#define SB_MAGIC_AT 0x38
#define SB_STATE_AT 0x3a
#define SB_INCOMPAT_AT 0x60
#define EXT2_MAGIC 0xef53
#define EXT2_ERROR_FS 0x0002
#define INCOMPAT_RECOVER 0x0004

unsigned long kf_mount_flags(unsigned long st)
{
	/* statvfs's ST_* are not mount(2)'s MS_* (ST_RELATIME is MS_BIND's value) */
	static const unsigned long map[][2] = {
		{ ST_RDONLY, MS_RDONLY }, { ST_NOSUID, MS_NOSUID }, { ST_NODEV, MS_NODEV },
		{ ST_NOEXEC, MS_NOEXEC }, { ST_SYNCHRONOUS, MS_SYNCHRONOUS }, { ST_NOATIME, MS_NOATIME },
		{ ST_NODIRATIME, MS_NODIRATIME }, { ST_RELATIME, MS_RELATIME },
	};
	unsigned long ms = 0;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (st & map[i][0])
			ms |= map[i][1];
	return ms;
}

int kf_disks_from_env(struct kf_disk *d, int max)
{
	int n = 0;

	for (int i = 0; i < KF_MAX_DISKS && n < max; i++) {
		char name[32];
		const char *dev, *fs, *mnt;

		snprintf(name, sizeof(name), "KFAULT_DISK%d", i);
		dev = getenv(name);
		snprintf(name, sizeof(name), "KFAULT_FS%d", i);
		fs = getenv(name);
		snprintf(name, sizeof(name), "KFAULT_MNT%d", i);
		mnt = getenv(name);
		/* only e2fsck is run: ext2, ext3 and ext4 */
		if (!dev || !fs || !mnt || strncmp(fs, "ext", 3) != 0)
			continue;
		if (strlen(dev) >= sizeof(d[n].dev) || strlen(fs) >= sizeof(d[n].fs) ||
		    strlen(mnt) >= sizeof(d[n].mnt))
			continue;
		strcpy(d[n].dev, dev);
		strcpy(d[n].fs, fs);
		strcpy(d[n].mnt, mnt);
		n++;
	}
	return n;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Mounted on its mount point (the mount point's device is the disk), with which flags. */
static int mounted(const struct kf_disk *d, unsigned long *flags)
{
	struct stat m, b;
	struct statvfs v;

	if (stat(d->mnt, &m) < 0 || stat(d->dev, &b) < 0 || m.st_dev != b.st_rdev)
		return 0;
	*flags = statvfs(d->mnt, &v) == 0 ? kf_mount_flags(v.f_flag) : 0;
	return 1;
}

/* The superblock's state and incompat features, read with the device held exclusively: a
 * filesystem still mounted anywhere holds it, and fsck of a live filesystem would report
 * damage that is not there. Returns 0, or -errno (EBUSY: still in use). */
static int read_super(const char *dev, unsigned *state, uint32_t *incompat)
{
	unsigned char sb[1024];
	int fd = open(dev, O_RDONLY | O_EXCL | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pread(fd, sb, sizeof(sb), SB_OFFSET);
	close(fd);
	if (n != (ssize_t)sizeof(sb))
		return n < 0 ? -errno : -EIO;
	if ((sb[SB_MAGIC_AT] | sb[SB_MAGIC_AT + 1] << 8) != EXT2_MAGIC)
		return -EINVAL;
	*state = sb[SB_STATE_AT] | sb[SB_STATE_AT + 1] << 8;
	*incompat = (uint32_t)sb[SB_INCOMPAT_AT] | (uint32_t)sb[SB_INCOMPAT_AT + 1] << 8 |
		    (uint32_t)sb[SB_INCOMPAT_AT + 2] << 16 | (uint32_t)sb[SB_INCOMPAT_AT + 3] << 24;
	return 0;
}

extern char **environ;

/* Runs e2fsck with args on dev: its exit status, or -1 (not started, or killed at the time
 * limit: *timed_out). Its stdout and stderr go to out (cap bytes kept, *total counted). */
static int spawn_e2fsck(const char *opts, const char *dev, char *out, size_t cap, size_t *len,
			long long *total, int *timed_out, int *err)
{
	char *argv[] = { (char *)E2FSCK, (char *)opts, (char *)dev, NULL };
	char *envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", (char *)"LC_ALL=C", NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int pipefd[2], status = -1, r;
	long long deadline = now_ns() + KF_FSCK_TIMEOUT_MS * 1000000LL;
	pid_t pid;

	*len = 0;
	*total = 0;
	*timed_out = 0;
	*err = 0;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		*err = errno;
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_USEVFORK);
	r = posix_spawn(&pid, E2FSCK, &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pipefd[1]);
	if (r != 0) {
		close(pipefd[0]);
		*err = r;
		return -1;
	}
	for (;;) {
		struct pollfd p = { .fd = pipefd[0], .events = POLLIN };
		long long left = (deadline - now_ns()) / 1000000;
		char buf[4096];
		ssize_t n;

		if (left <= 0) {
			*timed_out = 1;
			kill(pid, SIGKILL);
			break;
		}
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			continue;
		n = read(pipefd[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* EOF: e2fsck closed its output (it is ending) */
		*total += n;
		if (*len < cap) {
			size_t keep = (size_t)n < cap - *len ? (size_t)n : cap - *len;

			memcpy(out + *len, buf, keep);
			*len += keep;
		}
	}
	close(pipefd[0]);
	/* its output is closed; a process that keeps running past that is killed at the limit too */
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			status = -1;
			break;
		}
		if (now_ns() > deadline && !*timed_out) {
			*timed_out = 1;
			kill(pid, SIGKILL);
		}
		usleep(1000);
	}
	if (*timed_out || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

int kf_fsck_disk(const struct kf_disk *d, struct kf_fsck *f, char *out, struct kf_error *e)
{
	long long t0 = now_ns(), total;
	unsigned long flags = 0;
	int was = mounted(d, &flags), r, timed_out, err;
	unsigned state = 0;
	uint32_t incompat = 0;
	size_t len;
	char scratch[512];

	memset(f, 0, sizeof(*f));
	snprintf(f->device, sizeof(f->device), "%s", d->dev);
	snprintf(f->fs, sizeof(f->fs), "%s", d->fs);
	f->status = -1;
	f->out = out;
	if (was && umount2(d->mnt, 0) < 0) {
		snprintf(f->note, sizeof(f->note), "not checked: umount %s: %s (something holds it open)",
			 d->mnt, strerror(errno));
		goto done;
	}
	r = read_super(d->dev, &state, &incompat);
	if (r == -EBUSY) {
		snprintf(f->note, sizeof(f->note), "not checked: %s is still in use after umount (mounted elsewhere?)", d->dev);
		goto remount;
	}
	if (r < 0 && r != -EINVAL) {
		snprintf(f->note, sizeof(f->note), "not checked: reading the superblock of %s: %s", d->dev, strerror(-r));
		goto remount;
	}
	/* no ext2/3/4 magic: the step wrote over the superblock, e2fsck says so in its words */
	if (r == -EINVAL)
		snprintf(f->note, sizeof(f->note), "the superblock has no ext2/3/4 magic");
	f->error_state = (state & EXT2_ERROR_FS) != 0;
	if (incompat & INCOMPAT_RECOVER) {
		f->replayed = 1;
		if (mount(d->dev, d->mnt, d->fs, 0, NULL) < 0)
			f->replay_err = errno;
		else if (umount2(d->mnt, 0) < 0) {
			snprintf(f->note, sizeof(f->note), "not checked: umount after the journal replay: %s", strerror(errno));
			goto remount;
		}
	}
	f->status = spawn_e2fsck("-fn", d->dev, out, KF_FSCK_OUT_MAX, &len, &total, &timed_out, &err);
	f->out_len = len;
	f->out_total = total;
	f->timed_out = timed_out;
	f->ran = f->status >= 0;
	if (err)
		snprintf(f->note, sizeof(f->note), "e2fsck could not be started: %s: %s", E2FSCK, strerror(err));
	else if (timed_out)
		snprintf(f->note, sizeof(f->note), "e2fsck -fn did not finish within %d s: killed", KF_FSCK_TIMEOUT_MS / 1000);
	else if (f->status < 0)
		snprintf(f->note, sizeof(f->note), "e2fsck -fn was killed by a signal");
	/* the next step must start from a clean filesystem, not from this step's damage */
	if (f->ran && (f->status != 0 || f->error_state)) {
		long long t;
		int to;

		f->repaired = 1;
		f->repair_status = spawn_e2fsck("-fy", d->dev, scratch, sizeof(scratch), &len, &t, &to, &err);
	}
remount:
	if (was && mount(d->dev, d->mnt, d->fs, flags, NULL) < 0) {
		kf_set_error(e, errno, "mount", d->mnt);
		snprintf(e->message, sizeof(e->message), "the scratch disk %.60s could not be mounted again on %.100s after its check (e2fsck -fn exit %d): %s",
			 d->dev, d->mnt, f->status, strerror(errno));
		f->ns = now_ns() - t0;
		return -1;
	}
done:
	f->ns = now_ns() - t0;
	return 0;
}
