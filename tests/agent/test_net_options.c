/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the broker connection's network options: ALPN names and
 * their wire format, SOCKS5 proxy URLs, proxy credentials files, and the
 * broker.alpn / broker.proxy* configuration keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounded_call.h"
#include "config.h"
#include "net_options.h"

static void test_alpn_wire_format(void **state)
{
    (void)state;
    const char *names[] = {"x-amzn-mqtt-ca", "mqtt"};
    unsigned char *wire = NULL;
    size_t len = 0;
    char err[160];
    assert_int_equal(agent_alpn_encode(names, 2, &wire, &len, err, sizeof(err)), 0);
    const unsigned char want[] = "\x0ex-amzn-mqtt-ca\x04mqtt";
    assert_int_equal(len, sizeof(want) - 1);
    assert_memory_equal(wire, want, len);
    free(wire);

    const char *bad[] = {"ok", ""};
    assert_int_equal(agent_alpn_encode(bad, 2, &wire, &len, err, sizeof(err)), -1);
    assert_null(wire);
    assert_int_equal(agent_alpn_encode(names, 0, &wire, &len, err, sizeof(err)), -1);
    char long_name[300];
    memset(long_name, 'a', 256);
    long_name[256] = '\0';
    assert_false(agent_alpn_name_ok(long_name));
    long_name[255] = '\0';
    assert_true(agent_alpn_name_ok(long_name));
    assert_false(agent_alpn_name_ok("h2 c"));
    assert_false(agent_alpn_name_ok("caf\xc3\xa9"));
}

static void test_proxy_urls(void **state)
{
    (void)state;
    char *host = NULL;
    unsigned port = 0;
    char err[200];
    assert_int_equal(agent_proxy_parse("socks5://proxy.example:1080", &host, &port, err,
                                       sizeof(err)), 0);
    assert_string_equal(host, "proxy.example");
    assert_int_equal(port, 1080);
    free(host);
    assert_int_equal(agent_proxy_parse("socks5://[::1]:9050", &host, &port, err, sizeof(err)), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 9050);
    free(host);

    const char *bad[] = {"http://proxy:8080", "socks5://proxy", "socks5://proxy:0",
                         "socks5://proxy:65536", "socks5://:1080", "socks5://u:p@proxy:1080",
                         "socks5://proxy:1080/", "socks5://proxy:1080x", "socks5://[::1:1080",
                         "socks5://a b:1080", "socks5://proxy:+80", "SOCKS5://proxy:1080"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        host = (char *)1;
        if (agent_proxy_parse(bad[i], &host, &port, err, sizeof(err)) != -1)
            fail_msg("accepted %s", bad[i]);
        assert_null(host);
    }
}

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/net-options-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static char *write_file(const char *name, const char *text, mode_t mode)
{
    static char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    unlink(path);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

static void test_proxy_credentials(void **state)
{
    (void)state;
    struct agent_proxy_config cfg = {0};
    struct agent_proxy_auth auth;
    char err[300];

    assert_int_equal(agent_proxy_auth_read(&cfg, &auth, err, sizeof(err)), 0);
    assert_false(auth.present);

    cfg.auth_file = write_file("auth", "user one\r\npass word\n", 0600);
    assert_int_equal(agent_proxy_auth_read(&cfg, &auth, err, sizeof(err)), 0);
    assert_true(auth.present);
    assert_string_equal(auth.user, "user one");
    assert_string_equal(auth.password, "pass word");
    agent_proxy_auth_clear(&auth);
    assert_int_equal(auth.user[0], 0);

    struct {
        const char *text;
        mode_t mode;
        const char *why;
    } bad[] = {
        {"user\npass\n", 0644, "readable by every user"},
        {"user only\n", 0600, "password (line 2)"},
        {"\npass\n", 0600, "user name (line 1)"},
        {"user\npass\nthird\n", 0600, "found more"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cfg.auth_file = write_file("auth", bad[i].text, bad[i].mode);
        assert_int_equal(agent_proxy_auth_read(&cfg, &auth, err, sizeof(err)), -1);
        if (strstr(err, bad[i].why) == NULL)
            fail_msg("case %zu: %s", i, err);
        assert_false(auth.present);
    }
    char target[128], link_path[128];
    snprintf(target, sizeof(target), "%s", write_file("real", "u\np\n", 0600));
    snprintf(link_path, sizeof(link_path), "%s/link", dir);
    assert_int_equal(symlink(target, link_path), 0);
    cfg.auth_file = link_path;
    assert_int_equal(agent_proxy_auth_read(&cfg, &auth, err, sizeof(err)), -1);

    /* A systemd credential. */
    cfg.auth_file = NULL;
    cfg.auth_credential = "proxy";
    unsetenv("CREDENTIALS_DIRECTORY");
    assert_int_equal(agent_proxy_auth_read(&cfg, &auth, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "CREDENTIALS_DIRECTORY"));
    write_file("proxy", "cu\ncp\n", 0400);
    setenv("CREDENTIALS_DIRECTORY", dir, 1);
    assert_int_equal(agent_proxy_auth_read(&cfg, &auth, err, sizeof(err)), 0);
    assert_string_equal(auth.user, "cu");
    assert_string_equal(auth.password, "cp");
    unsetenv("CREDENTIALS_DIRECTORY");
}

/* Child side: 0 = refused, naming the FIFO and what it is; 1 = refused
 * with an unclear error; 2 = credentials were read from it. */
static int read_auth_from_fifo(void *arg)
{
    char *fifo = arg;
    struct agent_proxy_config cfg = {.auth_file = fifo};
    struct agent_proxy_auth auth;
    char err[300] = "";
    int rc = agent_proxy_auth_read(&cfg, &auth, err, sizeof(err));

    agent_proxy_auth_clear(&auth);
    if (rc == 0)
        return 2;
    fprintf(stderr, "refused: %s\n", err);
    return strstr(err, fifo) != NULL && strstr(err, "is a FIFO") != NULL ? 0 : 1;
}

/* A FIFO given as the proxy credentials file (nobody writing to it) is
 * refused at once with a clear error: the read is bounded, so a hang
 * fails. */
static void test_proxy_credentials_fifo_is_refused_at_once(void **state)
{
    char fifo[128];

    (void)state;
    snprintf(fifo, sizeof(fifo), "%s/auth-fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(tl_test_bounded_call(read_auth_from_fifo, fifo, 10), 0);
}

static int parse(const char *broker_extra, struct agent_config *cfg, char *err, size_t err_len)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "{\"device_id\":\"d\",\"identity\":{\"key\":\"pkcs11:object=k\","
             "\"certificate\":\"/c.pem\"},\"broker\":{\"host\":\"h\",\"ca_file\":\"/ca.pem\"%s}}",
             broker_extra);
    return agent_config_parse(text, strlen(text), cfg, err, err_len);
}

static void test_config_keys(void **state)
{
    (void)state;
    struct agent_config cfg;
    char err[512];

    assert_int_equal(parse("", &cfg, err, sizeof(err)), 0);
    assert_null(cfg.broker.alpn);
    assert_null(cfg.broker.proxy.host);
    agent_config_free(&cfg);

    assert_int_equal(parse(",\"alpn\":[\"x-amzn-mqtt-ca\"],\"proxy\":\"socks5://127.0.0.1:1080\","
                           "\"proxy_auth_file\":\"/etc/trustlink/proxy\"", &cfg, err, sizeof(err)),
                     0);
    assert_int_equal(cfg.broker.alpn_len, 15);
    assert_int_equal(cfg.broker.alpn[0], 14);
    assert_string_equal(cfg.broker.proxy.host, "127.0.0.1");
    assert_int_equal(cfg.broker.proxy.port, 1080);
    assert_string_equal(cfg.broker.proxy.auth_file, "/etc/trustlink/proxy");

    /* A changed ALPN list or proxy is a connection change (reload reconnects). */
    struct agent_config other;
    assert_int_equal(parse(",\"alpn\":[\"mqtt\"],\"proxy\":\"socks5://127.0.0.1:1080\","
                           "\"proxy_auth_file\":\"/etc/trustlink/proxy\"", &other, err, sizeof(err)),
                     0);
    assert_true(agent_config_connection_changed(&cfg, &other));
    agent_config_free(&other);
    assert_int_equal(parse(",\"alpn\":[\"x-amzn-mqtt-ca\"],\"proxy\":\"socks5://127.0.0.1:1080\","
                           "\"proxy_auth_file\":\"/etc/trustlink/proxy\"", &other, err, sizeof(err)),
                     0);
    assert_false(agent_config_connection_changed(&cfg, &other));
    agent_config_free(&other);
    agent_config_free(&cfg);

    struct {
        const char *extra;
        const char *why;
    } bad[] = {
        {",\"alpn\":\"x-amzn-mqtt-ca\"", "broker.alpn: expected an array"},
        {",\"alpn\":[]", "broker.alpn: expected 1-8"},
        {",\"alpn\":[\"a b\"]", "broker.alpn: entry 0"},
        {",\"alpn\":[1]", "broker.alpn: entry 0"},
        {",\"proxy\":\"http://p:1\"", "broker.proxy: expected socks5://"},
        {",\"proxy\":\"socks5://p\"", "broker.proxy: expected socks5://HOST:PORT with a port"},
        {",\"proxy_auth_file\":\"/a\"", "\"proxy\" is not"},
        {",\"proxy\":\"socks5://p:1\",\"proxy_auth_file\":\"/a\",\"proxy_auth_credential\":\"c\"",
         "at most one"},
        {",\"proxy\":\"socks5://p:1\",\"proxy_auth_file\":\"relative\"", "broker.proxy_auth_file"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(bad[i].extra, &cfg, err, sizeof(err)) != -1)
            fail_msg("accepted %s", bad[i].extra);
        if (strstr(err, bad[i].why) == NULL)
            fail_msg("%s: %s", bad[i].extra, err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alpn_wire_format),
        cmocka_unit_test(test_proxy_urls),
        cmocka_unit_test_setup_teardown(test_proxy_credentials, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_proxy_credentials_fifo_is_refused_at_once, make_dir,
                                        remove_dir),
        cmocka_unit_test(test_config_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
