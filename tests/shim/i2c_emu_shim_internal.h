/* SPDX-License-Identifier: Apache-2.0 */
/*
 * i2c_emu_shim's insides, shared by its two files: i2c_emu_shim_core.c
 * (the real libc functions, configuration, the fd table and the emu_wire
 * transactions) and i2c_emu_shim.c (the interposed entry points; its
 * opening comment describes the whole shim).
 *
 * Every name declared here is hidden: the shim is preloaded into programs
 * that may define the same names, and only the interposed libc entry
 * points may be visible from it.
 */
#ifndef TRUSTLINK_I2C_EMU_SHIM_INTERNAL_H
#define TRUSTLINK_I2C_EMU_SHIM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#pragma GCC visibility push(hidden)

enum {
    SHIM_MAX_FDS = 64,
    SHIM_DEFAULT_TIMEOUT_MS = 30000,
    SHIM_ADDR_MAX = 0x7F,
};

/* The next definitions of what the shim interposes (dlsym RTLD_NEXT). */
typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*open2_fn)(const char *, int);
typedef int (*openat2_fn)(int, const char *, int);
typedef int (*close_fn)(int);
typedef ssize_t (*read_fn)(int, void *, size_t);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef int (*ioctl_fn)(int, unsigned long, ...);

struct shim_real_calls {
    open_fn open, open64;
    openat_fn openat, openat64;
    open2_fn open_2, open64_2;
    openat2_fn openat_2, openat64_2;
    close_fn close;
    read_fn read;
    write_fn write;
    ioctl_fn ioctl;
};
extern struct shim_real_calls real;

struct shim_fd {
    atomic_int fd;      /* -1: slot free; written under table_lock only */
    unsigned refs;      /* transactions in flight */
    bool closing;       /* no new users: close() waits for refs to drop to 0 */
    bool stale;         /* fd no longer names our socket: the last user frees */
    bool broken;        /* the connection is unusable: EIO from now on */
    uint8_t addr;       /* 7-bit target address (i2c-dev starts at 0) */
    dev_t dev;          /* identity of the socket, to spot a reused fd */
    ino_t ino;
    pthread_mutex_t io; /* one transaction at a time on this fd */
};

void ensure_real(void);
bool trace_on(void);
bool mangling_on(void);
unsigned timeout_ms(void);
int lookup_mapping(const char *path, char *sock, size_t sock_cap);
int table_add(int fd);
struct shim_fd *table_get(int fd);
void table_put(struct shim_fd *e);
void table_remove(int fd);
int wire_transact(struct shim_fd *e, uint8_t op, uint8_t addr, uint8_t flags,
                  const uint8_t *out, size_t out_len, uint8_t *in, size_t in_len,
                  uint8_t *result);
int bus_transfer(struct shim_fd *e, uint8_t addr, bool is_read, bool ignore_nak,
                 uint8_t *buf, size_t len);

#pragma GCC visibility pop

#endif
