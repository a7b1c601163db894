/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Runs a call that might block forever (an open() on a FIFO) in a child
 * process with a deadline, so that a test of "does not hang" fails
 * instead of hanging the suite.
 */
#ifndef TRUSTLINK_TEST_BOUNDED_CALL_H
#define TRUSTLINK_TEST_BOUNDED_CALL_H

/* Forks; the child runs fn(arg) and exits with its result (0-255). The
 * parent waits up to seconds, then kills the child. Returns the child's
 * exit code, or -1 if it had to be killed (it hung) or died otherwise. */
int tl_test_bounded_call(int (*fn)(void *arg), void *arg, unsigned seconds);

#endif
