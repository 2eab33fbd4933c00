/* munlockall() with a merge to make: three anonymous pages P Y Z between PROT_NONE guards; Z
 * read-only, so a VMA of its own. Y and Z are locked with MLOCK_ONFAULT (nothing populated, so
 * no allocation but the VMA split), which leaves P unlocked. munlockall() walks every VMA:
 * unlocking Y makes it mergeable with P, and that merge allocates (maple tree preallocation).
 * If it fails and mlock_fixup()'s error pointer is kept as 'prev', unlocking Z dereferences it
 * (the bug faa242b1d2a9 "mm/mlock: set the correct prev on failure" fixed).
 * Every run maps the three pages afresh (MAP_FIXED), so each run starts from the same layout. */
#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 0x01
#endif

static char *guarded; /* 5 pages: guard, P, Y, Z, guard */
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
	char *p = guarded + page;

	(void)arg;
	if (mmap(p, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		return -errno;
	if (mprotect(p + 2 * page, page, PROT_READ) < 0)
		return -errno;
	if (syscall(SYS_mlock2, p + page, 2 * page, MLOCK_ONFAULT) < 0)
		return -errno;
	if (munlockall() < 0) /* ignores the errors of each VMA: returns 0 */
		return -errno;
	return 0;
}

void kfault_teardown(const char *arg)
{
	(void)arg;
	munmap(guarded, 5 * page);
}
