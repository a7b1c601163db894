/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The process runtime the other tests rely on: fork() and threads work,
 * also in a forked child. Natively this cannot fail; it guards the cross
 * builds' emulator command (cmake/toolchains/debian-multiarch.cmake),
 * where a dynamic loader from another glibc build than libc.so.6 made the
 * child of every fork() die of SIGSEGV (armhf) or hang (arm64), and with
 * it every threaded or forking unit test. This test names that cause in
 * one place instead of eight unrelated-looking failures.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

enum {
    WORKERS = 4,
    ROUNDS = 1000,
    /* A hung child is killed after this long (the arm64 symptom). */
    CHILD_ALARM_S = 20,
    CHILD_EXIT_CODE = 7,
};

struct counter {
    pthread_mutex_t mu;
    unsigned value;
};

static void *count_rounds(void *arg)
{
    struct counter *c = arg;

    for (int i = 0; i < ROUNDS; i++) {
        pthread_mutex_lock(&c->mu);
        c->value++;
        pthread_mutex_unlock(&c->mu);
    }
    return NULL;
}

/* 0 when WORKERS threads ran and joined and the count is exact. */
static int run_workers(void)
{
    struct counter c = {.value = 0};
    pthread_t t[WORKERS];
    int started = 0;
    int rc = 0;

    if (pthread_mutex_init(&c.mu, NULL) != 0)
        return -1;
    for (; started < WORKERS; started++)
        if (pthread_create(&t[started], NULL, count_rounds, &c) != 0) {
            rc = -1;
            break;
        }
    for (int i = 0; i < started; i++)
        if (pthread_join(t[i], NULL) != 0)
            rc = -1;
    if (rc == 0 && c.value != (unsigned)(WORKERS * ROUNDS))
        rc = -1;
    pthread_mutex_destroy(&c.mu);
    return rc;
}

/* Waits for pid; fails the test unless it exited with code. */
static void expect_exit_code(pid_t pid, int code)
{
    int status = 0;

    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("child killed by signal %d (SIGALRM %d means it hung)", WTERMSIG(status), SIGALRM);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), code);
}

static void test_forked_child_exits_with_its_code(void **state)
{
    pid_t pid;

    (void)state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(CHILD_ALARM_S);
        _exit(CHILD_EXIT_CODE);
    }
    expect_exit_code(pid, CHILD_EXIT_CODE);
}

static void test_threads_run_and_join(void **state)
{
    (void)state;
    assert_int_equal(run_workers(), 0);
}

static void test_child_of_threaded_process_runs_threads(void **state)
{
    pid_t pid;

    (void)state;
    assert_int_equal(run_workers(), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(CHILD_ALARM_S);
        _exit(run_workers() == 0 ? 0 : 1);
    }
    expect_exit_code(pid, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forked_child_exits_with_its_code),
        cmocka_unit_test(test_threads_run_and_join),
        cmocka_unit_test(test_child_of_threaded_process_runs_threads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
