/* The floor for boot: a PID 1 that does nothing. The same kernel and QEMU command line as a
 * kfault guest, with init= this static binary: it prints when it ran (the guest's
 * CLOCK_MONOTONIC) on the console and reboots at once (QEMU runs with -no-reboot, so it exits). */
#include <stdio.h>
#include <sys/reboot.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	printf("kfault-bench: init ran at %lld ms\n", ts.tv_sec * 1000LL + ts.tv_nsec / 1000000);
	fflush(stdout);
	reboot(RB_AUTOBOOT);
	for (;;)
		pause();
}
