/* Not an entry's harness: the measurement behind leaving out 23da9588037e (README, "Considered
 * and left out"); the integration test does not sweep it.
 * Rename a network device to a name no namespace has had: SIOCSIFNAME on the loopback device of
 * a network namespace of the harness's own (made in setup, never armed). The rename's
 * NETDEV_CHANGENAME notifiers re-register the device's sysctl tables under the new name
 * (net/ipv4/conf/<name>, net/ipv4/neigh/<name>, net/ipv6/conf/<name>, net/ipv6/neigh/<name>):
 * get_subdir() makes the directory <name> in the namespace's sysctl set, and insert_links()
 * must kzalloc (new_links()) its link in the root set, which has no entry of that name. When
 * that allocation fails, the new directory is dropped with no parent (CVE-2019-20054).
 * Each run renames to a fresh name (kf00001, kf00002, ...), so every run allocates the links
 * again; a run whose rename failed leaves the old name, which the next run reads back. */
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int sock = -1;
static int ifindex;
static unsigned int renames;

int kfault_setup(const char *arg)
{
	(void)arg;
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -errno;
	ifindex = (int)if_nametoindex("lo"); /* down in a fresh namespace, so it may be renamed */
	return ifindex ? 0 : -errno;
}

int kfault_run(const char *arg)
{
	struct ifreq ifr;

	(void)arg;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_ifindex = ifindex;
	if (ioctl(sock, SIOCGIFNAME, &ifr) < 0) /* its name now: the last run's rename may have failed */
		return -errno;
	/* fixed width: every run's names have the same length, so the same allocations */
	snprintf(ifr.ifr_newname, sizeof(ifr.ifr_newname), "kf%05u", ++renames % 100000);
	if (ioctl(sock, SIOCSIFNAME, &ifr) < 0)
		return -errno;
	return 0;
}

void kfault_teardown(const char *arg)
{
	(void)arg;
	close(sock); /* the namespace goes with the sweep thread */
}
