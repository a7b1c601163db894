/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Corpus replay for the normal (gcc) builds: feeds every file of the
 * directories (or files) named on the command line to the target's
 * LLVMFuzzerTestOneInput, in exact-size heap buffers so a read past the
 * end is caught by the ASan+UBSan pass. A crash or failed check ends the
 * process; the file being replayed is printed first, so the log names it.
 * An empty corpus is an error: a replay that tests nothing must not pass.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_target.h"

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long size;
    int rc = -1;

    if (f == NULL) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "replay: cannot size %s\n", path);
        goto cleanup;
    }
    buf = malloc(size > 0 ? (size_t)size : 1);
    if (buf == NULL || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        goto cleanup;
    }
    printf("replay %s (%ld bytes)\n", path, size);
    fflush(stdout);
    LLVMFuzzerTestOneInput(buf, (size_t)size);
    rc = 0;
cleanup:
    free(buf);
    fclose(f);
    return rc;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Files of dir in name order (a stable replay order); returns how many
 * were replayed, or -1. */
static long replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0, i;
    long done = 0;

    if (d == NULL) {
        fprintf(stderr, "replay: cannot open directory %s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **grown = realloc(names, (cap ? cap * 2 : 64) * sizeof(*names));

            if (grown == NULL) {
                done = -1;
                goto cleanup;
            }
            names = grown;
            cap = cap ? cap * 2 : 64;
        }
        if ((names[n] = strdup(e->d_name)) == NULL) {
            done = -1;
            goto cleanup;
        }
        n++;
    }
    if (n > 0)
        qsort(names, n, sizeof(*names), compare_names);
    for (i = 0; i < n; i++) {
        size_t len = strlen(dir) + strlen(names[i]) + 2;
        char *path = malloc(len);
        struct stat st;

        if (path == NULL) {
            done = -1;
            goto cleanup;
        }
        snprintf(path, len, "%s/%s", dir, names[i]);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (replay_file(path) < 0) {
                free(path);
                done = -1;
                goto cleanup;
            }
            done++;
        }
        free(path);
    }
cleanup:
    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return done;
}

int main(int argc, char **argv)
{
    long total = 0;
    int i;

    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    for (i = 1; i < argc; i++) {
        struct stat st;
        long n;

        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        n = S_ISDIR(st.st_mode) ? replay_dir(argv[i]) : (replay_file(argv[i]) == 0 ? 1 : -1);
        if (n < 0)
            return 1;
        total += n;
    }
    if (total == 0) {
        fprintf(stderr, "replay: no input files in the corpus\n");
        return 1;
    }
    printf("replayed %ld inputs: no crash, every check held\n", total);
    return 0;
}
