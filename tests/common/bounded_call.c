/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A call with a deadline in a child process (see bounded_call.h).
 */
#include "bounded_call.h"

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int tl_test_bounded_call(int (*fn)(void *arg), void *arg, unsigned seconds)
{
    struct timespec tick = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
    unsigned long waited_ms = 0;
    int status = 0;
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0)
        _exit(fn(arg) & 0xff);
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);

        if (r == pid)
            break;
        if (r < 0)
            return -1;
        if (waited_ms >= seconds * 1000ul) {
            fprintf(stderr, "bounded call: still blocked after %u s, killing pid %ld\n", seconds,
                    (long)pid);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        nanosleep(&tick, NULL);
        waited_ms += 10;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
