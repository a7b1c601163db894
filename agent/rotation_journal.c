/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rotation journal and renewal timing (see rotation_journal.h).
 * Owns: the temp file and descriptors it opens, closed on every path.
 * Must never: leave a half-written rotation.json (rename is the commit);
 * accept a record with unknown keys, a wrong version or missing fields.
 */
#include "rotation_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "err_text.h"
#include "regular_file.h"
#include "write_all.h"

#define JOURNAL_MAX_BYTES 16384

static const char *const step_names[ROTATION_STEP_COUNT] = {
    "idle", "key-generated", "csr-published", "cert-received", "cert-stored",
    "activation-requested", "activated", "probe-ok", "switched", "committed", "rolled-back",
};

const char *rotation_step_name(enum rotation_step step)
{
    if ((unsigned)step < ROTATION_STEP_COUNT)
        return step_names[step];
    return "unknown";
}

int rotation_step_parse(const char *name, enum rotation_step *out)
{
    for (unsigned i = 0; name && i < ROTATION_STEP_COUNT; i++) {
        if (strcmp(name, step_names[i]) == 0) {
            *out = (enum rotation_step)i;
            return 0;
        }
    }
    return -1;
}

const char *rotation_action_name(enum rotation_action action)
{
    switch (action) {
    case ROTATION_ACTION_NONE: return "none";
    case ROTATION_ACTION_ROLL_BACK: return "roll-back";
    case ROTATION_ACTION_COMPLETE: return "complete";
    case ROTATION_ACTION_REFUSE: return "refuse";
    }
    return "unknown";
}

static bool is_hex_id(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n % 2 != 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

int rotation_record_validate(const struct rotation_record *r, char *err, size_t err_len)
{
    if ((unsigned)r->step >= ROTATION_STEP_COUNT) {
        tl_set_err(err, err_len, "step: unknown value %d", (int)r->step);
        return -1;
    }
    if (r->step == ROTATION_IDLE)
        return 0;
    if (!is_hex_id(r->new_key_id)) {
        tl_set_err(err, err_len, "new_key_id: expected lowercase hex of even length, got \"%s\"",
                r->new_key_id);
        return -1;
    }
    if (!is_hex_id(r->old_key_id)) {
        tl_set_err(err, err_len, "old_key_id: expected lowercase hex of even length, got \"%s\"",
                r->old_key_id);
        return -1;
    }
    if (strcmp(r->new_key_id, r->old_key_id) == 0) {
        tl_set_err(err, err_len, "new_key_id equals old_key_id (%s)", r->new_key_id);
        return -1;
    }
    if (r->temp_label[0] == '\0' || r->label[0] == '\0') {
        tl_set_err(err, err_len, "%s: empty", r->temp_label[0] ? "label" : "temp_label");
        return -1;
    }
    if (strcmp(r->temp_label, r->label) == 0) {
        tl_set_err(err, err_len, "temp_label equals label (%s)", r->label);
        return -1;
    }
    if (r->step >= ROTATION_CSR_PUBLISHED && r->step != ROTATION_ROLLED_BACK &&
        r->request_id[0] == '\0') {
        tl_set_err(err, err_len, "request_id: required from step csr-published on");
        return -1;
    }
    if (r->step == ROTATION_ACTIVATION_REQUESTED &&
        (r->ownership_token[0] == '\0' || r->token_expires <= 0)) {
        tl_set_err(err, err_len, "%s: required at step activation-requested",
                r->ownership_token[0] ? "token_expires" : "ownership_token");
        return -1;
    }
    return 0;
}

/* ---- write ------------------------------------------------------------ */

static int fsync_dir(const char *dir, char *err, size_t err_len)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0) {
        tl_set_err(err, err_len, "%s: cannot open directory: %s", dir, strerror(errno));
        return -1;
    }
    if (fsync(fd) != 0) {
        tl_set_err(err, err_len, "%s: fsync of directory failed: %s", dir, strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int rotation_state_write(const char *dir, const char *name, const char *data, size_t len,
                         char *err, size_t err_len)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    int fd = -1, rc = -1;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) ||
        (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= sizeof(tmp)) {
        tl_set_err(err, err_len, "%s: path too long", dir);
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        tl_set_err(err, err_len, "%s: cannot create: %s", tmp, strerror(errno));
        goto out;
    }
    if (tl_write_all(fd, data, len) != 0) {
        tl_set_err(err, err_len, "%s: write failed: %s", tmp, strerror(errno));
        goto out;
    }
    if (fsync(fd) != 0) {
        tl_set_err(err, err_len, "%s: fsync failed: %s", tmp, strerror(errno));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        tl_set_err(err, err_len, "%s: close failed: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        tl_set_err(err, err_len, "%s: rename to %s failed: %s", tmp, path, strerror(errno));
        goto out;
    }
    rc = fsync_dir(dir, err, err_len);
out:
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        unlink(tmp);
    return rc;
}

int rotation_journal_write(const char *dir, const struct rotation_record *r, char *err,
                           size_t err_len)
{
    json_object *o = NULL;
    const char *text;
    char *line = NULL;
    size_t len;
    int rc = -1;

    if (rotation_record_validate(r, err, err_len) != 0)
        return -1;
    o = json_object_new_object();
    if (!o)
        goto oom;
    json_object_object_add(o, "version", json_object_new_int(ROTATION_JOURNAL_VERSION));
    json_object_object_add(o, "step", json_object_new_string(rotation_step_name(r->step)));
    json_object_object_add(o, "slot_id", json_object_new_int64((int64_t)r->slot_id));
    json_object_object_add(o, "new_key_id", json_object_new_string(r->new_key_id));
    json_object_object_add(o, "old_key_id", json_object_new_string(r->old_key_id));
    json_object_object_add(o, "temp_label", json_object_new_string(r->temp_label));
    json_object_object_add(o, "label", json_object_new_string(r->label));
    json_object_object_add(o, "request_id", json_object_new_string(r->request_id));
    json_object_object_add(o, "started", json_object_new_int64(r->started));
    json_object_object_add(o, "updated", json_object_new_int64(r->updated));
    json_object_object_add(o, "attempt", json_object_new_int64(r->attempt));
    json_object_object_add(o, "error", json_object_new_string(r->error));
    json_object_object_add(o, "ownership_token", json_object_new_string(r->ownership_token));
    json_object_object_add(o, "token_expires", json_object_new_int64(r->token_expires));
    text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (!text)
        goto oom;
    len = strlen(text);
    line = malloc(len + 2);
    if (!line)
        goto oom;
    memcpy(line, text, len);
    line[len] = '\n';
    line[len + 1] = '\0';
    rc = rotation_state_write(dir, ROTATION_JOURNAL_FILE, line, len + 1, err, err_len);
    goto out;
oom:
    tl_set_err(err, err_len, "rotation journal: out of memory");
out:
    /* The text may hold the ownership token. */
    if (line) {
        OPENSSL_cleanse(line, len + 1);
        free(line);
    }
    json_object_put(o);
    return rc;
}

int rotation_journal_clear(const char *dir, char *err, size_t err_len)
{
    char path[PATH_MAX];

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, ROTATION_JOURNAL_FILE) >= sizeof(path)) {
        tl_set_err(err, err_len, "%s: path too long", dir);
        return -1;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        tl_set_err(err, err_len, "%s: cannot remove: %s", path, strerror(errno));
        return -1;
    }
    return fsync_dir(dir, err, err_len);
}

/* ---- load ------------------------------------------------------------- */

static int get_string(json_object *o, const char *key, char *dst, size_t cap, const char *path,
                      char *err, size_t err_len)
{
    json_object *v;
    const char *s;

    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string)) {
        tl_set_err(err, err_len, "%s: %s: expected a string", path, key);
        return -1;
    }
    s = json_object_get_string(v);
    if (strlen(s) >= cap) {
        tl_set_err(err, err_len, "%s: %s: longer than %zu bytes", path, key, cap - 1);
        return -1;
    }
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

static int get_int(json_object *o, const char *key, int64_t min, int64_t max, int64_t *dst,
                   const char *path, char *err, size_t err_len)
{
    json_object *v;
    int64_t n;

    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int)) {
        tl_set_err(err, err_len, "%s: %s: expected an integer", path, key);
        return -1;
    }
    errno = 0;
    n = json_object_get_int64(v);
    if (errno != 0 || n < min || n > max) {
        tl_set_err(err, err_len, "%s: %s: expected %" PRId64 "..%" PRId64, path, key, min, max);
        return -1;
    }
    *dst = n;
    return 0;
}

enum rotation_load rotation_journal_load(const char *dir, struct rotation_record *out, char *err,
                                         size_t err_len)
{
    static const char *const known[] = {"version", "step", "slot_id", "new_key_id", "old_key_id",
                                        "temp_label", "label", "request_id", "started",
                                        "updated", "attempt", "error", "ownership_token",
                                        "token_expires", NULL};
    char path[PATH_MAX];
    char *buf = NULL;
    json_tokener *tok = NULL;
    json_object *o = NULL;
    char step[32];
    int64_t n, version = 0;
    size_t len = 0;
    int fd = -1;
    enum rotation_load rc = ROTATION_LOAD_CORRUPT;

    memset(out, 0, sizeof(*out));
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, ROTATION_JOURNAL_FILE) >= sizeof(path)) {
        tl_set_err(err, err_len, "%s: path too long", dir);
        return ROTATION_LOAD_IO;
    }
    /* A FIFO there would block the agent's start for good. */
    fd = tl_open_regular(path, O_RDONLY | O_NOFOLLOW, 0, "rotation journal", err, err_len);
    if (fd < 0)
        return errno == ENOENT ? ROTATION_LOAD_ABSENT : ROTATION_LOAD_IO;
    buf = malloc(JOURNAL_MAX_BYTES + 1);
    if (!buf) {
        tl_set_err(err, err_len, "%s: out of memory", path);
        rc = ROTATION_LOAD_IO;
        goto out;
    }
    for (;;) {
        ssize_t r = read(fd, buf + len, JOURNAL_MAX_BYTES + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            tl_set_err(err, err_len, "%s: read failed: %s", path, strerror(errno));
            rc = ROTATION_LOAD_IO;
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > JOURNAL_MAX_BYTES) {
            tl_set_err(err, err_len, "%s: corrupt: larger than %d bytes", path, JOURNAL_MAX_BYTES);
            goto out;
        }
    }
    buf[len] = '\0';
    if (len == 0 || strlen(buf) != len) {
        tl_set_err(err, err_len, "%s: corrupt: %s", path, len ? "contains NUL bytes" : "empty file");
        goto out;
    }
    tok = json_tokener_new();
    if (!tok) {
        tl_set_err(err, err_len, "%s: out of memory", path);
        rc = ROTATION_LOAD_IO;
        goto out;
    }
    o = json_tokener_parse_ex(tok, buf, (int)len);
    if (!o || json_tokener_get_error(tok) != json_tokener_success ||
        json_tokener_get_parse_end(tok) < len) {
        /* Trailing whitespace after the object is fine; anything else is not. */
        size_t end = json_tokener_get_parse_end(tok);
        bool trailing_ok = o && json_tokener_get_error(tok) == json_tokener_success;
        for (size_t i = end; trailing_ok && i < len; i++)
            if (buf[i] != ' ' && buf[i] != '\n' && buf[i] != '\t' && buf[i] != '\r')
                trailing_ok = false;
        if (!trailing_ok) {
            tl_set_err(err, err_len, "%s: corrupt: not one JSON object (%s at byte %zu)", path,
                    o ? "trailing data" : json_tokener_error_desc(json_tokener_get_error(tok)),
                    end);
            goto out;
        }
    }
    if (!json_object_is_type(o, json_type_object)) {
        tl_set_err(err, err_len, "%s: corrupt: expected a JSON object", path);
        goto out;
    }
    json_object_object_foreach(o, key, val) {
        bool ok = false;
        (void)val;
        for (size_t i = 0; known[i]; i++)
            ok = ok || strcmp(key, known[i]) == 0;
        if (!ok) {
            tl_set_err(err, err_len, "%s: corrupt: unknown key \"%s\"", path, key);
            goto out;
        }
    }
    if (get_int(o, "version", 0, INT32_MAX, &n, path, err, err_len) != 0)
        goto out;
    if (n < 1 || n > ROTATION_JOURNAL_VERSION) {
        tl_set_err(err, err_len, "%s: version %" PRId64 " is not supported (expected 1 to %d)", path,
                   n, ROTATION_JOURNAL_VERSION);
        goto out;
    }
    version = n;
    out->slot_id_recorded = n >= 2;
    if (get_string(o, "step", step, sizeof(step), path, err, err_len) != 0)
        goto out;
    if (rotation_step_parse(step, &out->step) != 0) {
        tl_set_err(err, err_len, "%s: step: unknown step \"%s\"", path, step);
        goto out;
    }
    if (get_int(o, "slot_id", 0, INT64_MAX, &n, path, err, err_len) != 0)
        goto out;
    out->slot_id = (unsigned long)n;
    if (get_string(o, "new_key_id", out->new_key_id, sizeof(out->new_key_id), path, err, err_len) ||
        get_string(o, "old_key_id", out->old_key_id, sizeof(out->old_key_id), path, err, err_len) ||
        get_string(o, "temp_label", out->temp_label, sizeof(out->temp_label), path, err, err_len) ||
        get_string(o, "label", out->label, sizeof(out->label), path, err, err_len) ||
        get_string(o, "request_id", out->request_id, sizeof(out->request_id), path, err, err_len) ||
        get_string(o, "error", out->error, sizeof(out->error), path, err, err_len) ||
        get_int(o, "started", 0, INT64_MAX, &out->started, path, err, err_len) ||
        get_int(o, "updated", 0, INT64_MAX, &out->updated, path, err, err_len) ||
        get_int(o, "attempt", 0, UINT32_MAX, &n, path, err, err_len))
        goto out;
    out->attempt = (unsigned)n;
    if (version >= 3) {
        if (get_string(o, "ownership_token", out->ownership_token, sizeof(out->ownership_token),
                       path, err, err_len) ||
            get_int(o, "token_expires", 0, INT64_MAX, &out->token_expires, path, err, err_len))
            goto out;
    } else if (json_object_object_get_ex(o, "ownership_token", NULL) ||
               json_object_object_get_ex(o, "token_expires", NULL) ||
               out->step == ROTATION_ACTIVATION_REQUESTED || out->step == ROTATION_ACTIVATED) {
        tl_set_err(err, err_len, "%s: corrupt: version %" PRId64 " has no activation steps or fields",
                path, version);
        goto out;
    }
    {
        char why[200];
        if (rotation_record_validate(out, why, sizeof(why)) != 0) {
            tl_set_err(err, err_len, "%s: corrupt: %s", path, why);
            goto out;
        }
    }
    rc = ROTATION_LOAD_OK;
out:
    if (rc != ROTATION_LOAD_OK)
        OPENSSL_cleanse(out, sizeof(*out));
    json_object_put(o);
    if (tok)
        json_tokener_free(tok);
    if (buf) {
        OPENSSL_cleanse(buf, JOURNAL_MAX_BYTES + 1);
        free(buf);
    }
    close(fd);
    return rc;
}

/* ---- start-up decision ------------------------------------------------- */

enum rotation_action rotation_recovery_action(const struct rotation_record *r,
                                              unsigned long token_slot, const char **why)
{
    const char *dummy;

    if (!why)
        why = &dummy;
    if (rotation_record_validate(r, NULL, 0) != 0) {
        *why = "the record is inconsistent: leave the token alone and report";
        return ROTATION_ACTION_REFUSE;
    }
    if (r->step != ROTATION_IDLE && r->slot_id_recorded && r->slot_id != token_slot) {
        *why = "the rotation ran on the token of another PKCS#11 slot: leave this token alone "
               "and report";
        return ROTATION_ACTION_REFUSE;
    }
    switch (r->step) {
    case ROTATION_IDLE:
        *why = "no rotation in progress";
        return ROTATION_ACTION_NONE;
    case ROTATION_KEY_GENERATED:
    case ROTATION_CSR_PUBLISHED:
    case ROTATION_CERT_RECEIVED:
    case ROTATION_CERT_STORED:
        *why = "the new identity was never proven to the broker: destroy it, keep the old one";
        return ROTATION_ACTION_ROLL_BACK;
    case ROTATION_ACTIVATION_REQUESTED:
    case ROTATION_ACTIVATED:
        /* The certificate may be active in the cloud, but the broker never
         * accepted it from us: a fresh rotation is cheaper and safer than
         * resuming a half-done one with a token that may be used or late. */
        *why = "activation was under way but the new identity was never proven to the broker: "
               "destroy it, keep the old one";
        return ROTATION_ACTION_ROLL_BACK;
    case ROTATION_PROBE_OK:
    case ROTATION_SWITCHED:
        *why = "the broker accepted the new identity: relabel it and retire the old one";
        return ROTATION_ACTION_COMPLETE;
    case ROTATION_COMMITTED:
        *why = "committed: finish retiring the old pair (idempotent)";
        return ROTATION_ACTION_COMPLETE;
    case ROTATION_ROLLED_BACK:
        *why = "rolled back: finish destroying the new objects (idempotent)";
        return ROTATION_ACTION_ROLL_BACK;
    }
    *why = "unknown step";
    return ROTATION_ACTION_REFUSE;
}

/* ---- renewal timing ---------------------------------------------------- */

void renewal_policy_default(struct renewal_policy *p)
{
    p->floor = 30LL * 24 * 3600;
    p->jitter_cap = 24LL * 3600;
    p->min_interval = 60;
    p->retry_base = 60;
    p->retry_max = 6LL * 3600;
}

int64_t renewal_due(int64_t not_before, int64_t not_after, const struct renewal_policy *p,
                    uint32_t random)
{
    int64_t lifetime, by_fraction, by_floor, due, window;

    if (not_after <= not_before)
        return INT64_MIN;
    lifetime = not_after - not_before;
    by_fraction = not_before + lifetime / 3 * 2 + (lifetime % 3) * 2 / 3;
    by_floor = not_after - p->floor;
    due = by_fraction < by_floor ? by_fraction : by_floor;
    window = lifetime / 20;
    if (window < 1)
        window = 1;
    if (p->jitter_cap > 0 && window > p->jitter_cap)
        window = p->jitter_cap;
    due -= (int64_t)(((uint64_t)random * (uint64_t)window) >> 32);
    return due < not_before ? not_before : due;
}

int64_t renewal_next_attempt(int64_t now, int64_t due, int64_t not_after, int64_t last_attempt,
                             unsigned failures, const struct renewal_policy *p)
{
    int64_t next = now > due ? now : due;

    if (failures > 0) {
        int64_t delay = p->retry_base > 0 ? p->retry_base : 1;
        int64_t left = not_after - now;
        for (unsigned i = 1; i < failures && delay < p->retry_max; i++)
            delay *= 2;
        if (delay > p->retry_max)
            delay = p->retry_max;
        if (left > 0 && delay > left / 4)
            delay = left / 4;
        if (last_attempt + delay > next)
            next = last_attempt + delay;
    }
    if (last_attempt > 0 && last_attempt + p->min_interval > next)
        next = last_attempt + p->min_interval;
    return next;
}
