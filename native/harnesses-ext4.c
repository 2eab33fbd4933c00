/* The ext4 harnesses: each reaches one ext4 path on the scratch disk the guest agent mounted
 * (KFAULT_DISK0 at KFAULT_MNT0, see native/fsck.c for the check between steps). Same contract
 * as native/harnesses.c: run() returns 0 or -errno of the call that failed, undo() puts back
 * the state every run starts from, and run() faults in no memory of its own. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "kfault.h"

/* The scratch disk, as the agent's environment names it. Sweeps of one ext4 harness share the
 * disk anyway, so its paths live here rather than in the per-run ctx. */
struct ext4_disk {
	char dev[64], mnt[200];
	unsigned long flags; /* the agent's mount flags, to mount it back as it was */
	int was_mounted;
};
static struct ext4_disk disk;

static const char NO_DISK[] =
	"no scratch disk with ext4: the ext4-* harnesses need KFAULT_DISK0 and KFAULT_MNT0 in the guest "
	"(run with --disk SIZE:ext4 and --profile block, or machine.disks in the config)";

/* Fills disk from KFAULT_DISK0/KFAULT_MNT0, or fails with ENODEV and says which flags give it. */
static int find_disk(struct kf_ctx *c)
{
	const char *dev = getenv("KFAULT_DISK0"), *mnt = getenv("KFAULT_MNT0"), *fs = getenv("KFAULT_FS0");

	if (!dev || !*dev || !mnt || !*mnt || (fs && strcmp(fs, "ext4") != 0)) {
		c->why = NO_DISK;
		return -ENODEV;
	}
	if (strlen(dev) >= sizeof(disk.dev) || strlen(mnt) >= sizeof(disk.mnt))
		return -ENAMETOOLONG;
	strcpy(disk.dev, dev);
	strcpy(disk.mnt, mnt);
	return 0;
}

/* mount(2) flags for a statvfs f_flag (ST_* are not MS_*: ST_RELATIME is MS_BIND's value).
 * native/fsck.c has the same map; this file keeps its own so that a reproducer made from it
 * (src/repro/c-extract.ts) compiles on its own. */
static unsigned long ms_flags(unsigned long st)
{
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

/* Whether the disk is mounted on its mount point, and with which flags. */
static int mounted_flags(unsigned long *flags)
{
	struct stat m, d;
	struct statvfs v;

	if (stat(disk.mnt, &m) < 0 || stat(disk.dev, &d) < 0 || m.st_dev != d.st_rdev)
		return 0;
	*flags = statvfs(disk.mnt, &v) == 0 ? ms_flags(v.f_flag) : 0;
	return 1;
}

/* A directory of this harness's own under the mount point. */
static int fresh_dir(const char *dir)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int in_mnt(char *buf, size_t size, const char *name)
{
	return (size_t)snprintf(buf, size, "%s/%s", disk.mnt, name) >= size ? -ENAMETOOLONG : 0;
}

/* ext4-mount: mount and umount of the scratch disk's ext4. The agent's mount is taken down
 * once before the sweep and put back after it. */
static int mount_setup(struct kf_ctx *c)
{
	int r = find_disk(c);

	if (r < 0)
		return r;
	disk.flags = 0;
	disk.was_mounted = mounted_flags(&disk.flags);
	if (disk.was_mounted && umount2(disk.mnt, 0) < 0)
		return -errno;
	return 0;
}
static int mount_run(struct kf_ctx *c)
{
	if (mount(disk.dev, disk.mnt, "ext4", 0, NULL) < 0)
		return -errno;
	c->id = 1;
	if (umount2(disk.mnt, 0) < 0)
		return -errno;
	c->id = 0;
	return 0;
}
static void mount_undo(struct kf_ctx *c)
{
	if (c->id == 1)
		umount2(disk.mnt, 0);
}
static void mount_teardown(struct kf_ctx *c)
{
	(void)c;
	if (disk.was_mounted)
		mount(disk.dev, disk.mnt, "ext4", disk.flags, NULL);
}

/* ext4-write: create, write 12 KiB (more than one block at any block size), fsync, unlink,
 * in a directory of its own that undo makes afresh. */
#define WRITE_DIR "kfault-ext4-write"
static char write_buf[12288];
static char write_dir[256];

static int write_fresh_dir(struct kf_ctx *c)
{
	unlink(c->path);
	rmdir(write_dir);
	return fresh_dir(write_dir);
}
static int write_setup(struct kf_ctx *c)
{
	int r = find_disk(c);

	if (r < 0 || (r = in_mnt(write_dir, sizeof(write_dir), WRITE_DIR)) < 0)
		return r;
	snprintf(c->path, sizeof(c->path), "%.240s/file", write_dir);
	for (size_t i = 0; i < sizeof(write_buf); i++)
		write_buf[i] = (char)('a' + i % 26);
	return write_fresh_dir(c);
}
static int write_run(struct kf_ctx *c)
{
	ssize_t n;
	int fd = open(c->path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	c->fd[0] = fd;
	n = write(fd, write_buf, sizeof(write_buf));
	if (n < 0)
		return -errno;
	if (n != (ssize_t)sizeof(write_buf))
		return -ENOSPC; /* a short write: the rest did not fit */
	if (fsync(fd) < 0)
		return -errno;
	if (unlink(c->path) < 0)
		return -errno;
	return 0;
}
static void write_undo(struct kf_ctx *c)
{
	if (c->fd[0] >= 0) {
		close(c->fd[0]);
		c->fd[0] = -1;
	}
	write_fresh_dir(c);
}
static void write_teardown(struct kf_ctx *c)
{
	unlink(c->path);
	rmdir(write_dir);
}

/* ext4-rename: a file moved from one directory to another; undo moves it back, unarmed. */
#define RENAME_DIR "kfault-ext4-rename"
static char rename_to[256];

static int rename_setup(struct kf_ctx *c)
{
	char base[256], dir[256 + 8];
	int r = find_disk(c), fd;

	if (r < 0 || (r = in_mnt(base, sizeof(base), RENAME_DIR)) < 0)
		return r;
	snprintf(c->path, sizeof(c->path), "%.240s/a/file", base);
	snprintf(rename_to, sizeof(rename_to), "%.240s/b/file", base);
	if ((r = fresh_dir(base)) < 0)
		return r;
	snprintf(dir, sizeof(dir), "%s/a", base);
	if ((r = fresh_dir(dir)) < 0)
		return r;
	snprintf(dir, sizeof(dir), "%s/b", base);
	if ((r = fresh_dir(dir)) < 0)
		return r;
	rename(rename_to, c->path); /* left in b by an earlier sweep that was cut short */
	fd = open(c->path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}
static int rename_run(struct kf_ctx *c)
{
	if (rename(c->path, rename_to) < 0)
		return -errno;
	c->id = 1;
	return 0;
}
static void rename_undo(struct kf_ctx *c)
{
	if (c->id == 1)
		rename(rename_to, c->path);
}
static void rename_teardown(struct kf_ctx *c)
{
	char dir[256];

	unlink(c->path);
	unlink(rename_to);
	snprintf(dir, sizeof(dir), "%s", c->path);
	*strrchr(dir, '/') = '\0'; /* .../a */
	rmdir(dir);
	dir[strlen(dir) - 1] = 'b';
	rmdir(dir);
	*strrchr(dir, '/') = '\0';
	rmdir(dir);
}

/* ext4-xattr-tree: a directory, a subdirectory and a file, each with a user.* xattr; the
 * file's second one (700 bytes) does not fit in a 256-byte inode and takes an xattr block. */
#define XATTR_DIR "kfault-ext4-xattr"
static char xattr_sub[256], xattr_file[256];
static char xattr_big[700];

static void xattr_remove(struct kf_ctx *c)
{
	unlink(xattr_file);
	rmdir(xattr_sub);
	rmdir(c->path);
}
static int xattr_setup(struct kf_ctx *c)
{
	int r = find_disk(c);

	if (r < 0 || (r = in_mnt(c->path, sizeof(c->path), XATTR_DIR)) < 0)
		return r;
	snprintf(xattr_sub, sizeof(xattr_sub), "%.240s/sub", c->path);
	snprintf(xattr_file, sizeof(xattr_file), "%.240s/sub/file", c->path);
	for (size_t i = 0; i < sizeof(xattr_big); i++)
		xattr_big[i] = (char)('A' + i % 26);
	xattr_remove(c);
	return 0;
}
static int xattr_run(struct kf_ctx *c)
{
	static const char small[] = "kfault";
	int fd;

	if (mkdir(c->path, 0700) < 0)
		return -errno;
	if (setxattr(c->path, "user.kfault.dir", small, sizeof(small) - 1, XATTR_CREATE) < 0)
		return -errno;
	if (mkdir(xattr_sub, 0700) < 0)
		return -errno;
	if (setxattr(xattr_sub, "user.kfault.sub", small, sizeof(small) - 1, XATTR_CREATE) < 0)
		return -errno;
	fd = open(xattr_file, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	c->fd[0] = fd;
	if (fsetxattr(fd, "user.kfault.small", small, sizeof(small) - 1, XATTR_CREATE) < 0)
		return -errno;
	if (fsetxattr(fd, "user.kfault.big", xattr_big, sizeof(xattr_big), XATTR_CREATE) < 0)
		return -errno;
	return 0;
}
static void xattr_undo(struct kf_ctx *c)
{
	if (c->fd[0] >= 0) {
		close(c->fd[0]);
		c->fd[0] = -1;
	}
	xattr_remove(c);
}

const struct kf_harness kf_ext4_harnesses[] = {
	{ "ext4-mount", "mount", "mount and umount of the scratch disk's ext4", mount_setup, mount_run, mount_undo, mount_teardown, NULL },
	{ "ext4-write", "write", "create + write 12 KiB + fsync + unlink on ext4", write_setup, write_run, write_undo, write_teardown, NULL },
	{ "ext4-rename", "rename", "rename a file across two ext4 directories", rename_setup, rename_run, rename_undo, rename_teardown, NULL },
	{ "ext4-xattr-tree", "setxattr", "mkdir, mkdir, create with user.* xattrs (one in an xattr block) on ext4", xattr_setup, xattr_run, xattr_undo, xattr_remove, NULL },
};

const size_t kf_ext4_harness_count = sizeof(kf_ext4_harnesses) / sizeof(kf_ext4_harnesses[0]);
