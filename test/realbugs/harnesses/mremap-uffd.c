/* mremap() of a VMA registered with a userfaultfd that lacks UFFD_FEATURE_EVENT_REMAP: the move
 * recurses into the page tables PMD by PMD instead of moving whole PMDs, so the old PTE tables
 * stay in place. Two PMD-aligned 2 MiB halves, one page written in each (so both old PMDs have
 * a PTE table); if the second half's PTE table allocation fails, move_vma() moves the first half
 * back, and a recovery that tries to move a whole PMD onto the old, still populated PMD hits
 * WARN_ON_ONCE(!pmd_none(*new_pmd)) in move_normal_pmd() (syzbot 4d9a13f0797c46a29e42).
 * Every run maps the area afresh (MAP_FIXED) inside one PROT_NONE reservation and puts the
 * reservation back at the end, so each run starts from the same layout. */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PMD (2UL << 20)
#define LEN (2 * PMD)

static char *reserved; /* 14 MiB: the old area and the new one, PMD-aligned, apart */
static char *old_area, *new_area;

int kfault_setup(const char *arg)
{
	(void)arg;
	reserved = mmap(NULL, 7 * PMD, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (reserved == MAP_FAILED)
		return -errno;
	old_area = (char *)(((uintptr_t)reserved + PMD - 1) & ~(PMD - 1));
	new_area = old_area + LEN + PMD;
	return 0;
}

static int put_back_reservation(void)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED;

	if (mmap(old_area, LEN, PROT_NONE, flags, -1, 0) == MAP_FAILED ||
	    mmap(new_area, LEN, PROT_NONE, flags, -1, 0) == MAP_FAILED)
		return -errno;
	return 0;
}

int kfault_run(const char *arg)
{
	struct uffdio_api api = { .api = UFFD_API }; /* no UFFD_FEATURE_EVENT_REMAP */
	struct uffdio_register reg = {
		.range = { .start = (unsigned long)old_area, .len = LEN },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	int fd = -1, err = 0, put_back;

	(void)arg;
	if (mmap(old_area, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		return -errno;
	/* one page in each half, written without a page fault of our own */
	if (madvise(old_area, 4096, MADV_POPULATE_WRITE) < 0 ||
	    madvise(old_area + PMD, 4096, MADV_POPULATE_WRITE) < 0) {
		err = -errno;
		goto out;
	}
	fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	if (ioctl(fd, UFFDIO_API, &api) < 0 || ioctl(fd, UFFDIO_REGISTER, &reg) < 0) {
		err = -errno;
		goto out;
	}
	if (mremap(old_area, LEN, LEN, MREMAP_MAYMOVE | MREMAP_FIXED, new_area) == MAP_FAILED)
		err = -errno;
out:
	if (fd >= 0)
		close(fd);
	put_back = put_back_reservation();
	return err ? err : put_back;
}

void kfault_teardown(const char *arg)
{
	(void)arg;
	munmap(reserved, 7 * PMD);
}
