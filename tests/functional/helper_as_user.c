// SPDX-License-Identifier: GPL-2.0
/*
 * helper_as_user UID COMMAND [ARG...] - run COMMAND as user and group UID,
 * with no supplementary groups (busybox's setpriv cannot change ids).
 * Exits 125 if the ids cannot be dropped, 127 if COMMAND cannot run.
 */
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	uid_t id;

	if (argc < 3) {
		fprintf(stderr, "usage: helper_as_user UID COMMAND [ARG...]\n");
		return 125;
	}
	id = strtoul(argv[1], NULL, 10);
	if (setgroups(0, NULL) || setgid(id) || setuid(id) || getuid() != id) {
		perror("helper_as_user: dropping privileges");
		return 125;
	}
	execvp(argv[2], argv + 2);
	perror(argv[2]);
	return 127;
}
