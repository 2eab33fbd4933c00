/* userfaultfd release with a merge to make: three anonymous pages A B C between PROT_NONE
 * guards; B and C (C read-only, so a VMA of its own) are registered with one userfaultfd, then
 * the fd is closed. userfaultfd_release_all() clears B's uffd flags, which makes B mergeable
 * with A: that merge allocates (maple tree preallocation). If it fails and the error pointer is
 * kept as 'prev', clearing C dereferences it (syzbot 20ed41006cf9d842c2b5).
 * Every run maps the three pages afresh (MAP_FIXED), so each run starts from the same layout. */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static char *guarded; /* 5 pages: guard, A, B, C, guard */
static long page;

int kfault_setup(const char *arg)
{
	(void)arg;
	page = sysconf(_SC_PAGESIZE);
	guarded = mmap(NULL, 5 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (guarded == MAP_FAILED)
		return -errno;
	return 0;
}

int kfault_run(const char *arg)
{
	char *a = guarded + page;
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { .start = (unsigned long)(a + page), .len = 2 * page },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	int fd, err = 0;

	(void)arg;
	if (mmap(a, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		return -errno;
	if (mprotect(a + 2 * page, page, PROT_READ) < 0)
		return -errno;
	fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api) < 0 || ioctl(fd, UFFDIO_REGISTER, &reg) < 0)
		err = -errno;
	close(fd); /* the release runs on the way back from close(), on this thread */
	return err;
}

void kfault_teardown(const char *arg)
{
	(void)arg;
	munmap(guarded, 5 * page);
}
