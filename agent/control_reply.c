/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Replies of the control socket server (see control_internal.h).
 *
 * Owns: each client's output buffer and its held replies. A reply whose
 * request is not finished yet (fsync mode: a publish whose record is not
 * on disk) is held with a ticket; every later reply to the same client
 * is held behind it, so a client reads its replies in request order
 * whatever other clients do meanwhile. agent_control_settle releases what
 * the handlers now call done.
 * Must never: block (every write is MSG_DONTWAIT), let a buffer grow
 * past its bound, or send a held reply before the ones before it.
 */
#include "control_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include <json-c/json.h>

#include "clock.h"
#include "utf8.h"

void control_log(const struct agent_control *control, int priority, const char *fmt, ...)
{
    char msg[CONTROL_ERR_LEN + 128];
    va_list ap;

    if (control->handlers.log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    control->handlers.log(control->handlers.ctx, priority, msg);
}

static struct control_held_reply *held_at(struct control_client *c, size_t i)
{
    return &c->held[(c->held_first + i) % CONTROL_MAX_HELD];
}

static void held_release(struct control_held_reply *h)
{
    free(h->text);
    json_object_put(h->id);
    memset(h, 0, sizeof(*h));
}

void control_client_free(struct control_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    while (c->held_count > 0) {
        held_release(held_at(c, 0));
        c->held_first = (c->held_first + 1) % CONTROL_MAX_HELD;
        c->held_count--;
    }
    free(c->in);
    free(c->out);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

void control_client_close(struct agent_control *control, struct control_client *c,
                          const char *why)
{
    if (why != NULL)
        control_log(control, LOG_DEBUG, "control: closing client pid %ld uid %ld: %s",
                    c->cred_ok ? (long)c->cred.pid : -1L, c->cred_ok ? (long)c->cred.uid : -1L,
                    why);
    control_client_free(c);
}

bool control_client_has_replies(const struct control_client *c)
{
    return c->out_len > 0 || c->held_count > 0;
}

bool control_client_backpressured(const struct control_client *c)
{
    return c->out_len >= CONTROL_OUTPUT_HIGH || c->held_count >= CONTROL_MAX_HELD;
}

int control_client_flush(struct agent_control *control, struct control_client *c)
{
    while (c->out_len > 0) {
        ssize_t n = send(c->fd, c->out, c->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            control_client_close(control, c, strerror(errno));
            return -1;
        }
        memmove(c->out, c->out + n, c->out_len - (size_t)n);
        c->out_len -= (size_t)n;
        c->idle_deadline_ms = agent_monotonic_ms() + control->idle_timeout_ms;
    }
    if (c->out_cap > CONTROL_IN_KEEP) {
        free(c->out);
        c->out = NULL;
        c->out_cap = 0;
    }
    /* A client that hung up is closed once its held replies are out too:
     * they say whether its last publishes are on disk. */
    if (c->closing && c->held_count == 0) {
        control_client_close(control, c, NULL);
        return -1;
    }
    return 0;
}

/* Appends text to the output buffer; the bound was checked when the reply
 * was made. -1 when the client was closed (out of memory). */
static int out_append(struct agent_control *control, struct control_client *c, const char *text,
                      size_t len)
{
    size_t need = c->out_len + len;

    if (need > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        char *p;

        while (cap < need)
            cap *= 2;
        p = realloc(c->out, cap);
        if (p == NULL) {
            control_client_close(control, c, "out of memory queueing a reply");
            return -1;
        }
        c->out = p;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, text, len);
    c->out_len += len;
    return 0;
}

/* The reply as one protocol line ('\n' included) in a new buffer, or
 * NULL out of memory. */
static char *reply_line(struct json_object *reply, size_t *len_out)
{
    const char *text = reply ? json_object_to_json_string_ext(
                                   reply, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                             : NULL;
    size_t len;
    char *line;

    if (text == NULL)
        return NULL;
    len = strlen(text);
    line = malloc(len + 1);
    if (line == NULL)
        return NULL;
    memcpy(line, text, len);
    line[len] = '\n';
    *len_out = len + 1;
    return line;
}

/* reply_line within the client's output bound, or NULL with the client
 * closed (out of memory, or it does not read its replies). */
static char *format_line(struct agent_control *control, struct control_client *c,
                         struct json_object *reply, size_t *len_out)
{
    char *line = reply_line(reply, len_out);

    if (line == NULL) {
        control_client_close(control, c, "out of memory formatting a reply");
        return NULL;
    }
    if (c->out_len + c->held_bytes + *len_out > CONTROL_MAX_OUTPUT) {
        free(line);
        control_client_close(control, c, "it does not read its replies (output buffer full)");
        return NULL;
    }
    return line;
}

static int hold_line(struct agent_control *control, struct control_client *c, char *line,
                     size_t len, struct json_object *id, uint64_t ticket)
{
    struct control_held_reply *h;

    if (c->held_count >= CONTROL_MAX_HELD) {
        /* Backpressure stops reading at the bound, so this is a bug. */
        free(line);
        control_client_close(control, c, "too many replies held");
        return -1;
    }
    h = held_at(c, c->held_count);
    h->ticket = ticket;
    h->id = id ? json_object_get(id) : NULL;
    h->text = line;
    h->len = len;
    c->held_count++;
    c->held_bytes += len;
    return 0;
}

int control_client_queue(struct agent_control *control, struct control_client *c,
                         struct json_object *reply)
{
    size_t len = 0;
    char *line = format_line(control, c, reply, &len);
    int rc;

    if (line == NULL)
        return -1;
    if (c->held_count > 0)
        return hold_line(control, c, line, len, NULL, 0);
    rc = out_append(control, c, line, len);
    free(line);
    return rc;
}

int control_client_hold(struct agent_control *control, struct control_client *c,
                        struct json_object *reply, struct json_object *id, uint64_t ticket)
{
    size_t len = 0;
    char *line = format_line(control, c, reply, &len);

    if (line == NULL)
        return -1;
    return hold_line(control, c, line, len, id, ticket);
}

struct json_object *control_make_reply(bool ok, struct json_object *id)
{
    struct json_object *reply = json_object_new_object();

    if (reply == NULL)
        return NULL;
    json_object_object_add(reply, "ok", json_object_new_boolean(ok));
    if (id != NULL)
        json_object_object_add(reply, "id", json_object_get(id));
    return reply;
}

/* The error reply as a line, for a held reply whose ticket failed. */
static struct json_object *error_reply(struct json_object *id, const char *msg)
{
    struct json_object *reply = control_make_reply(false, id);

    if (reply == NULL)
        return NULL;
    /* Messages pass through fixed-size buffers on their way here; one cut
     * inside a character would make the reply invalid UTF-8. */
    json_object_object_add(reply, "error",
                           json_object_new_string_len(msg, (int)tl_utf8_complete_len(
                                                                msg, strnlen(msg, 4096))));
    return reply;
}

int control_reply_error(struct agent_control *control, struct control_client *c,
                        struct json_object *id, const char *msg)
{
    struct json_object *reply = error_reply(id, msg);
    int rc;

    if (reply == NULL) {
        control_client_close(control, c, "out of memory");
        return -1;
    }
    rc = control_client_queue(control, c, reply);
    json_object_put(reply);
    return rc;
}

/* Replaces a held reply's text by the error reply of its failed ticket.
 * The error may be longer than the "ok" it replaces: the output bound
 * then lets it through anyway (one line over is harmless, and the client
 * must learn that its message is not confirmed). -1 when closed. */
static int held_fail(struct agent_control *control, struct control_client *c,
                     struct control_held_reply *h, const char *msg)
{
    struct json_object *reply = error_reply(h->id, msg);
    size_t len = 0;
    char *line = reply_line(reply, &len);

    json_object_put(reply);
    if (line == NULL) {
        control_client_close(control, c, "out of memory");
        return -1;
    }
    c->held_bytes = c->held_bytes - h->len + len;
    free(h->text);
    h->text = line;
    h->len = len;
    return 0;
}

int control_client_settle(struct agent_control *control, struct control_client *c)
{
    const struct agent_control_handlers *hd = &control->handlers;
    bool moved = false;

    while (c->held_count > 0) {
        struct control_held_reply *h = held_at(c, 0);

        if (h->ticket != 0) {
            char err[CONTROL_ERR_LEN] = "";
            int state = hd->ticket_state ? hd->ticket_state(hd->ctx, h->ticket, err, sizeof(err))
                                         : 0;

            if (state > 0)
                break;
            if (state < 0 && held_fail(control, c, h, err[0] ? err : "command failed") < 0)
                return -1;
        }
        if (out_append(control, c, h->text, h->len) < 0)
            return -1;
        c->held_bytes -= h->len;
        held_release(h);
        c->held_first = (c->held_first + 1) % CONTROL_MAX_HELD;
        c->held_count--;
        moved = true;
    }
    if (c->held_count == 0)
        c->held_first = 0;
    if (moved) {
        /* The client was waiting on us, not idle. */
        c->idle_deadline_ms = agent_monotonic_ms() + control->idle_timeout_ms;
        return control_client_flush(control, c);
    }
    return 0;
}
