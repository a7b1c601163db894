/* SPDX-License-Identifier: Apache-2.0 */
/* Test helpers: temp directories and files (see p11_test_util.h). */
#include "p11_test_util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *p11t_mkdtemp(void)
{
    const char *base = getenv("TMPDIR");
    char *p;
    size_t n;

    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    n = strlen(base) + 32;
    p = malloc(n);
    if (p == NULL)
        abort();
    snprintf(p, n, "%s/p11test.XXXXXX", base);
    if (mkdtemp(p) == NULL)
        abort();
    return p;
}

static void rmtree_at(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;

    if (d == NULL) {
        (void)unlink(path);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        char *child;
        size_t n;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        n = strlen(path) + strlen(de->d_name) + 2;
        child = malloc(n);
        if (child == NULL)
            abort();
        snprintf(child, n, "%s/%s", path, de->d_name);
        rmtree_at(child);
        free(child);
    }
    closedir(d);
    (void)rmdir(path);
}

void p11t_rmtree(char *dir)
{
    if (dir == NULL)
        return;
    rmtree_at(dir);
    free(dir);
}

char *p11t_write_file(const char *dir, const char *name, const char *text)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    FILE *f;

    if (p == NULL)
        abort();
    snprintf(p, n, "%s/%s", dir, name);
    f = fopen(p, "w");
    if (f == NULL)
        abort();
    fputs(text, f);
    fclose(f);
    return p;
}

char *p11t_read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n)
        abort();
    buf[n] = '\0';
    fclose(f);
    return buf;
}
