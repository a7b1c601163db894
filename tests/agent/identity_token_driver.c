/* SPDX-License-Identifier: Apache-2.0 */
/*
 * End-to-end driver for the token operations of key rotation
 * (agent/token.h) on a real token: SoftHSMv2 or our module on
 * atecc608-emu. Run by e2e_identity_token.sh; exit 0 = pass, else the
 * first failed check on stderr.
 *
 * The identity config comes from the environment, as the agent would
 * have it: TL_MODULE, TL_KEY_URI, TL_CERT_URI, TL_PIN_FILE; TL_TOKEN_KIND
 * (softhsm|emu) enables our module's checks (bounded chip slots).
 *
 * Usage: identity_token_driver rotate ROUNDS   rotations, prints "final-id HEX"
 *        identity_token_driver verify HEX      a fresh load resolves key id HEX
 *        identity_token_driver unsafe HEX      key_by_id refuses key id HEX
 *
 * Includes token_internal.h (tests only) to look at libp11's key list
 * and prove that keys generated after the identity was loaded are listed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libp11.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "config.h"
#include "identity.h"
#include "token_internal.h"
#include "hex.h"
#include "rotation_proof.h"
#include "token.h"

#define ID_LEN 8

static struct agent_identity_config cfg;
static const char *token_kind = "softhsm";

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "FAIL identity_token_driver: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    ERR_print_errors_fp(stderr);
    exit(1);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "[identity_token_driver] ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
}

static void expect_status(enum agent_identity_status got, enum agent_identity_status want,
                          const char *what, const char *err)
{
    if (got != want)
        fail("%s: status %s, expected %s (%s)", what, agent_identity_status_name(got),
             agent_identity_status_name(want), err);
}

static void hex_of(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = '\0';
}

static size_t unhex(const char *s, unsigned char *out, size_t max)
{
    size_t n = strlen(s) / 2;

    if (n == 0 || n > max || strlen(s) % 2)
        fail("bad hex id %s", s);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            fail("bad hex id %s", s);
        out[i] = (unsigned char)v;
    }
    return n;
}

static void load_config(void)
{
    cfg.module = getenv("TL_MODULE");
    cfg.key_uri = getenv("TL_KEY_URI");
    cfg.certificate = getenv("TL_CERT_URI");
    cfg.pin_file = getenv("TL_PIN_FILE");
    if (getenv("TL_TOKEN_KIND"))
        token_kind = getenv("TL_TOKEN_KIND");
    if (!cfg.module || !cfg.key_uri || !cfg.certificate)
        fail("TL_MODULE, TL_KEY_URI and TL_CERT_URI must be set");
}

static struct agent_identity *load_identity(void)
{
    struct agent_identity *id = NULL;
    char err[1024] = "";

    expect_status(agent_identity_load(&cfg, &id, err, sizeof(err)), AGENT_IDENTITY_OK,
                  "agent_identity_load", err);
    return id;
}

/* Token changes need the journal step they belong to on disk
 * (rotation_proof.h): a private journal directory for the driver. */
static char journal_dir[64];

static void remove_journal_dir(void)
{
    char path[128];

    if (!journal_dir[0])
        return;
    snprintf(path, sizeof(path), "%s/%s", journal_dir, ROTATION_JOURNAL_FILE);
    unlink(path);
    rmdir(journal_dir);
}

/* Records step for a rotation from the identity's key to new_id and
 * returns the gateway's proof of it. */
static const struct rotation_proof *prove(struct agent_identity *id, enum rotation_step step,
                                          const unsigned char *new_id, size_t new_len)
{
    static struct rotation_proof proof;
    struct rotation_record rec;
    unsigned char old_id[AGENT_TOKEN_ID_MAX];
    size_t old_len = sizeof(old_id);
    char err[512];

    memset(&rec, 0, sizeof(rec));
    if (agent_identity_key_id(id, old_id, &old_len) != AGENT_IDENTITY_OK)
        fail("prove: the identity has no key id");
    rec.step = step;
    agent_hex_encode(old_id, old_len, rec.old_key_id, sizeof(rec.old_key_id));
    agent_hex_encode(new_id, new_len, rec.new_key_id, sizeof(rec.new_key_id));
    snprintf(rec.label, sizeof(rec.label), "device");
    snprintf(rec.temp_label, sizeof(rec.temp_label), "device.next");
    snprintf(rec.request_id, sizeof(rec.request_id), "driver");
    if (rotation_proof_record(journal_dir, &rec, &proof, err, sizeof(err)) != 0)
        fail("prove: %s", err);
    return &proof;
}

/* The gateway refuses token changes whose journal step is not on disk. */
static void check_step_proofs(struct agent_identity *id)
{
    struct agent_token *tok = agent_identity_token(id);
    unsigned char new_id[ID_LEN], old_id[AGENT_TOKEN_ID_MAX];
    size_t old_len = sizeof(old_id);
    struct rotation_proof forged;
    unsigned count = 0;
    char err[768] = "";

    if (RAND_bytes(new_id, ID_LEN) != 1)
        fail("RAND_bytes");
    expect_status(agent_identity_key_id(id, old_id, &old_len), AGENT_IDENTITY_OK, "key id", "");
    expect_status(agent_token_generate_p256(tok, NULL, new_id, ID_LEN, "device.next", err,
                                            sizeof(err)),
                  AGENT_IDENTITY_CONFIG, "generate without a journal step", err);
    expect_status(agent_token_generate_p256(tok, prove(id, ROTATION_CSR_PUBLISHED, new_id, ID_LEN),
                                            new_id, ID_LEN, "device.next", err, sizeof(err)),
                  AGENT_IDENTITY_CONFIG, "generate at step csr-published", err);
    if (!strstr(err, "refusing to generate") || !strstr(err, "csr-published"))
        fail("generate at the wrong step: message %s", err);
    /* Roll-back steps never let the old key go. */
    expect_status(agent_token_destroy_id(tok, prove(id, ROTATION_CERT_STORED, new_id, ID_LEN),
                                         old_id, old_len, &count, err, sizeof(err)),
                  AGENT_IDENTITY_CONFIG, "destroying the old key at step cert-stored", err);
    expect_status(agent_token_relabel(tok, prove(id, ROTATION_ROLLED_BACK, new_id, ID_LEN),
                                      old_id, old_len, "device.previous", &count, err,
                                      sizeof(err)),
                  AGENT_IDENTITY_CONFIG, "relabelling the old key at step rolled-back", err);
    /* A committed journal never lets the new key go. */
    expect_status(agent_token_destroy_id(tok, prove(id, ROTATION_COMMITTED, new_id, ID_LEN),
                                         new_id, ID_LEN, &count, err, sizeof(err)),
                  AGENT_IDENTITY_CONFIG, "destroying the new key at step committed", err);
    /* A proof filled in by hand, or one the file no longer says. */
    forged = *prove(id, ROTATION_KEY_GENERATED, new_id, ID_LEN);
    forged.rec.step = ROTATION_COMMITTED;
    expect_status(agent_token_destroy_id(tok, &forged, old_id, old_len, &count, err, sizeof(err)),
                  AGENT_IDENTITY_CONFIG, "destroy with a forged proof", err);
    if (!strstr(err, "not one this process issued"))
        fail("forged proof: message %s", err);
    forged = *prove(id, ROTATION_COMMITTED, new_id, ID_LEN);
    prove(id, ROTATION_KEY_GENERATED, new_id, ID_LEN);
    expect_status(agent_token_destroy_id(tok, &forged, old_id, old_len, &count, err, sizeof(err)),
                  AGENT_IDENTITY_CONFIG, "destroy with a proof the journal no longer holds", err);
    if (!strstr(err, "says step key-generated"))
        fail("stale proof: message %s", err);
    if (agent_token_find_id(tok, old_id, old_len, NULL, 0, err, sizeof(err)) != 3)
        fail("a refused change touched the old key");
    note("token changes without their journal step on disk are refused: %s", err);
}

/* How many private keys libp11 lists for the identity's token. */
static unsigned libp11_private_keys(struct agent_identity *id)
{
    PKCS11_KEY *keys = NULL;
    unsigned n = 0, priv = 0;

    if (PKCS11_enumerate_keys(agent_identity_token(id)->slot->token, &keys, &n) != 0)
        fail("PKCS11_enumerate_keys failed");
    for (unsigned i = 0; i < n; i++)
        priv += keys[i].isPrivate ? 1 : 0;
    ERR_clear_error();
    return priv;
}

/* libp11's cached label for the private key with key_id, for the notes. */
static const char *libp11_label(struct agent_identity *id, const unsigned char *key_id)
{
    PKCS11_KEY *keys = NULL;
    unsigned n = 0;
    const char *label = "(not listed)";

    if (PKCS11_enumerate_keys(agent_identity_token(id)->slot->token, &keys, &n) != 0)
        fail("PKCS11_enumerate_keys failed");
    for (unsigned i = 0; i < n; i++)
        if (keys[i].isPrivate && keys[i].id_len == ID_LEN && memcmp(keys[i].id, key_id, ID_LEN) == 0)
            label = keys[i].label ? keys[i].label : "(none)";
    ERR_clear_error();
    return label;
}

/* Signs a SHA-256 digest with the token key and verifies it with its
 * public half, exported to a software key. Returns that software key. */
static EVP_PKEY *sign_and_verify(EVP_PKEY *token_key)
{
    static const unsigned char msg[] = "trustlink key rotation test message";
    unsigned char sig[160], *der = NULL;
    const unsigned char *p;
    size_t sig_len = sizeof(sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY *pub;
    int der_len;

    if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, token_key) != 1 ||
        EVP_DigestSign(md, sig, &sig_len, msg, sizeof(msg)) != 1)
        fail("signing with the token key failed");
    EVP_MD_CTX_free(md);
    der_len = i2d_PUBKEY(token_key, &der);
    p = der;
    pub = der_len > 0 ? d2i_PUBKEY(NULL, &p, der_len) : NULL;
    OPENSSL_free(der);
    if (!pub)
        fail("cannot export the public half of the token key");
    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) != 1 ||
        EVP_DigestVerify(md, sig, sig_len, msg, sizeof(msg)) != 1)
        fail("the token key's signature does not verify with its public key");
    EVP_MD_CTX_free(md);
    return pub;
}

/* A certificate for pub, signed by a throwaway software key. */
static X509 *make_certificate(EVP_PKEY *pub, unsigned round)
{
    EVP_PKEY *issuer_key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    char cn[32];

    snprintf(cn, sizeof(cn), "device-001 r%u", round);
    if (!issuer_key || !x || !name || X509_set_version(x, 2) != 1 ||
        ASN1_INTEGER_set(X509_get_serialNumber(x), (long)round + 100) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (unsigned char *)cn, -1, -1, 0) != 1 ||
        X509_set_subject_name(x, name) != 1 || X509_set_issuer_name(x, name) != 1 ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -60) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 86400) || X509_set_pubkey(x, pub) != 1 ||
        X509_sign(x, issuer_key, EVP_sha256()) <= 0)
        fail("cannot build a test certificate");
    X509_NAME_free(name);
    EVP_PKEY_free(issuer_key);
    return x;
}

/* find_label(label) must give exactly priv + pub + cert, all with key_id. */
static void expect_three_with_id(struct agent_identity *id, const char *label,
                                 const unsigned char *key_id)
{
    struct agent_token_object o[8];
    unsigned seen = 0;
    char err[512] = "";
    int n = agent_token_find_label(agent_identity_token(id), label, o, 8, err, sizeof(err));

    if (n != 3)
        fail("find_label(%s) found %d objects, expected 3 (private, public, certificate) %s",
             label, n, err);
    for (int i = 0; i < n; i++) {
        if (o[i].id_len != ID_LEN || memcmp(o[i].id, key_id, ID_LEN) != 0 ||
            strcmp(o[i].label, label) != 0)
            fail("find_label(%s): object %d has another id or label (%s)", label, i, o[i].label);
        seen |= o[i].klass == CKO_PRIVATE_KEY ? 1u : o[i].klass == CKO_PUBLIC_KEY ? 2u
                : o[i].klass == CKO_CERTIFICATE ? 4u : 8u;
    }
    if (seen != 7)
        fail("find_label(%s): classes are not one private key, one public key, one certificate",
             label);
    if (agent_token_find_label(agent_identity_token(id), label, NULL, 0, err, sizeof(err)) != 3)
        fail("find_label(%s) counting with max 0 is not 3", label);
}

static void check_argument_validation(struct agent_identity *id)
{
    unsigned char long_id[AGENT_TOKEN_ID_MAX + 1] = {0};
    char long_label[AGENT_TOKEN_LABEL_MAX + 2];
    EVP_PKEY *k = NULL;
    unsigned count = 9;
    char err[512];

    memset(long_label, 'x', sizeof(long_label) - 1);
    long_label[sizeof(long_label) - 1] = '\0';
    expect_status(agent_token_generate_p256(agent_identity_token(id), NULL, long_id, 0, "x", err, sizeof(err)),
                  AGENT_IDENTITY_CONFIG, "generate with an empty id", err);
    expect_status(agent_token_generate_p256(agent_identity_token(id), NULL, long_id, sizeof(long_id), "x", err, sizeof(err)),
                  AGENT_IDENTITY_CONFIG, "generate with a 65-byte id", err);
    expect_status(agent_token_generate_p256(agent_identity_token(id), NULL, long_id, 4, "", err, sizeof(err)),
                  AGENT_IDENTITY_CONFIG, "generate with an empty label", err);
    expect_status(agent_token_generate_p256(agent_identity_token(id), NULL, long_id, 4, long_label, err, sizeof(err)),
                  AGENT_IDENTITY_CONFIG, "generate with a 65-byte label", err);
    expect_status(agent_token_relabel(agent_identity_token(id), NULL, long_id, 4, NULL, &count, err, sizeof(err)),
                  AGENT_IDENTITY_CONFIG, "relabel to no label", err);
    if (count != 0)
        fail("relabel with bad arguments left count %u", count);
    expect_status(agent_token_key_by_id(agent_identity_token(id), long_id, 4, &k, err, sizeof(err)),
                  AGENT_IDENTITY_OBJECT_NOT_FOUND, "key_by_id of an unused id", err);
    if (k)
        fail("key_by_id of an unused id returned a key");
    if (agent_token_find_label(agent_identity_token(id), "", NULL, 0, err, sizeof(err)) != -1)
        fail("find_label(\"\") was accepted");
}

/* Our module has three free chip slots (2, 3, 4); with the live key in one,
 * two more fit and the next generation must say "no free key slot". */
static void check_slot_exhaustion(struct agent_identity *id)
{
    unsigned char extra[3][ID_LEN];
    unsigned count;
    char err[512] = "";
    enum agent_identity_status st;

    for (int i = 0; i < 3; i++)
        if (RAND_bytes(extra[i], ID_LEN) != 1)
            fail("RAND_bytes");
    for (int i = 0; i < 2; i++)
        expect_status(agent_token_generate_p256(agent_identity_token(id),
                                                prove(id, ROTATION_KEY_GENERATED, extra[i], ID_LEN),
                                                extra[i], ID_LEN, "extra", err, sizeof(err)),
                      AGENT_IDENTITY_OK, "generating into a free slot", err);
    st = agent_token_generate_p256(agent_identity_token(id),
                                   prove(id, ROTATION_KEY_GENERATED, extra[2], ID_LEN), extra[2],
                                   ID_LEN, "extra", err, sizeof(err));
    expect_status(st, AGENT_IDENTITY_CONFIG, "generating with every slot taken", err);
    if (!strstr(err, "no free key slot") || !strstr(err, "trustlink"))
        fail("no-free-slot message does not say so or name the token: %s", err);
    note("all slots taken: %s", err);
    for (int i = 0; i < 2; i++) {
        expect_status(agent_token_destroy_id(agent_identity_token(id),
                                             prove(id, ROTATION_ROLLED_BACK, extra[i], ID_LEN),
                                             extra[i], ID_LEN, &count, err, sizeof(err)),
                      AGENT_IDENTITY_OK, "destroying an extra key", err);
        if (count != 2)
            fail("an extra key had %u objects, expected 2 (private and public)", count);
    }
}

static void rotate_once(struct agent_identity *id, unsigned round)
{
    unsigned char old_id[AGENT_TOKEN_ID_MAX], new_id[ID_LEN], got[AGENT_TOKEN_ID_MAX];
    size_t old_len = sizeof(old_id), got_len = sizeof(got);
    struct agent_token_object o[8];
    char err[1024] = "", old_hex[2 * AGENT_TOKEN_ID_MAX + 1], new_hex[2 * ID_LEN + 1];
    EVP_PKEY *key = NULL, *pub;
    unsigned before, count;
    X509 *cert;
    int n;

    expect_status(agent_identity_key_id(id, old_id, &old_len), AGENT_IDENTITY_OK,
                  "agent_identity_key_id", "");
    hex_of(old_id, old_len, old_hex);
    if (RAND_bytes(new_id, ID_LEN) != 1)
        fail("RAND_bytes");
    hex_of(new_id, ID_LEN, new_hex);
    note("round %u: %s -> %s", round, old_hex, new_hex);

    before = libp11_private_keys(id);
    expect_status(agent_token_generate_p256(agent_identity_token(id), prove(id, ROTATION_KEY_GENERATED, new_id, ID_LEN), new_id, ID_LEN, "device.next", err, sizeof(err)),
                  AGENT_IDENTITY_OK, "agent_token_generate_p256", err);
    expect_status(agent_token_generate_p256(agent_identity_token(id), prove(id, ROTATION_KEY_GENERATED, new_id, ID_LEN), new_id, ID_LEN, "device.next", err, sizeof(err)),
                  AGENT_IDENTITY_CONFIG, "generating a second key with the same id", err);

    /* libp11 0.4.12 lists the new key in a context loaded before it existed. */
    if (libp11_private_keys(id) != before + 1)
        fail("libp11 lists %u private keys after generation, expected %u",
             libp11_private_keys(id), before + 1);
    expect_status(agent_token_key_by_id(agent_identity_token(id), new_id, ID_LEN, &key, err, sizeof(err)),
                  AGENT_IDENTITY_OK, "agent_token_key_by_id(new)", err);
    pub = sign_and_verify(key);
    cert = make_certificate(pub, round);
    EVP_PKEY_free(pub);
    expect_status(agent_token_store_certificate(agent_identity_token(id), prove(id, ROTATION_CERT_STORED, new_id, ID_LEN), cert, new_id, ID_LEN, "device.next", err,
                                                sizeof(err)),
                  AGENT_IDENTITY_OK, "agent_token_store_certificate", err);
    expect_three_with_id(id, "device.next", new_id);

    expect_status(agent_token_relabel(agent_identity_token(id), prove(id, ROTATION_COMMITTED, new_id, ID_LEN), old_id, old_len, "device.previous", &count, err,
                                      sizeof(err)),
                  AGENT_IDENTITY_OK, "relabel old -> device.previous", err);
    if (count != 3)
        fail("relabel old changed %u objects, expected 3", count);
    expect_status(agent_token_relabel(agent_identity_token(id), prove(id, ROTATION_COMMITTED, new_id, ID_LEN), new_id, ID_LEN, "device", &count, err, sizeof(err)),
                  AGENT_IDENTITY_OK, "relabel new -> device", err);
    if (count != 3)
        fail("relabel new changed %u objects, expected 3", count);
    expect_status(agent_token_relabel(agent_identity_token(id), prove(id, ROTATION_COMMITTED, new_id, ID_LEN), new_id, ID_LEN, "device", &count, err, sizeof(err)),
                  AGENT_IDENTITY_OK, "relabel new -> device again", err);
    if (count != 0)
        fail("repeated relabel changed %u objects, expected 0", count);
    expect_three_with_id(id, "device", new_id);
    note("libp11 lists %u private keys; its label for the relabelled new key: %s",
         libp11_private_keys(id), libp11_label(id, new_id));
    if (agent_token_find_label(agent_identity_token(id), "device.next", o, 8, err, sizeof(err)) != 0)
        fail("objects still labelled device.next after the relabel");

    /* The key the identity holds now carries the label "device.previous"
     * on the token: libp11 keeps a relabelled key in its list. The
     * EVP_PKEY still signs (handles stay valid until destroyed). */
    expect_status(agent_token_destroy_id(agent_identity_token(id), prove(id, ROTATION_COMMITTED, new_id, ID_LEN), old_id, old_len, &count, err, sizeof(err)),
                  AGENT_IDENTITY_OK, "destroy old id", err);
    if (count != 3)
        fail("destroy old id removed %u objects, expected 3", count);
    expect_status(agent_token_destroy_id(agent_identity_token(id), prove(id, ROTATION_COMMITTED, new_id, ID_LEN), old_id, old_len, &count, err, sizeof(err)),
                  AGENT_IDENTITY_OK, "destroy old id again", err);
    if (count != 0)
        fail("repeated destroy removed %u objects, expected 0", count);
    n = agent_token_find_id(agent_identity_token(id), old_id, old_len, o, 8, err, sizeof(err));
    if (n != 0)
        fail("find_id(old) found %d objects after destroy (%s)", n, err);
    n = agent_token_find_id(agent_identity_token(id), new_id, ID_LEN, o, 8, err, sizeof(err));
    if (n != 3)
        fail("find_id(new) found %d objects, expected 3 (%s)", n, err);
    if (agent_token_find_label(agent_identity_token(id), "device.previous", NULL, 0, err, sizeof(err)) != 0)
        fail("objects labelled device.previous survived the destroy");

    agent_identity_adopt(id, key, cert, NULL);
    expect_status(agent_identity_key_id(id, got, &got_len), AGENT_IDENTITY_OK,
                  "key_id after adopt", "");
    if (got_len != ID_LEN || memcmp(got, new_id, ID_LEN) != 0)
        fail("key_id after adopt is not the new id");
    if (!strstr(agent_identity_key_name(id), "object=device;id=") ||
        !strstr(agent_identity_key_name(id), new_hex))
        fail("key_name after adopt is \"%s\"", agent_identity_key_name(id));
    if (X509_check_private_key(agent_identity_certificate(id), agent_identity_key(id)) != 1)
        fail("adopted certificate does not match the adopted key");
    if (sk_X509_num(agent_identity_chain(id)) != 0)
        fail("adopted chain is not empty");
    EVP_PKEY_free(sign_and_verify(agent_identity_key(id)));

    /* Resolving again in the same process (same libp11 context, whose key
     * list still has the pre-relabel label) also lands on the new key. */
    expect_status(agent_identity_resolve(id, &cfg, err, sizeof(err)), AGENT_IDENTITY_OK,
                  "agent_identity_resolve after the rotation", err);
    got_len = sizeof(got);
    expect_status(agent_identity_key_id(id, got, &got_len), AGENT_IDENTITY_OK,
                  "key_id after resolve", "");
    if (got_len != ID_LEN || memcmp(got, new_id, ID_LEN) != 0)
        fail("resolve after the rotation found another key than the new one");
}

/* Phase 1 alone serves token operations; a failed phase 2 leaves the
 * identity open and without key; a good one then resolves. */
static struct agent_identity *open_then_resolve(void)
{
    struct agent_identity_config missing = cfg;
    struct agent_identity *id = NULL;
    unsigned char kid[AGENT_TOKEN_ID_MAX];
    size_t kid_len = sizeof(kid);
    char err[1024] = "", uri[600];

    expect_status(agent_identity_open(&cfg, &id, err, sizeof(err)), AGENT_IDENTITY_OK,
                  "agent_identity_open", err);
    if (agent_identity_key(id) || agent_token_find_label(agent_identity_token(id), "device", NULL, 0, err, sizeof(err)) != 3)
        fail("an opened identity has a key, or cannot find the device objects: %s", err);
    snprintf(uri, sizeof(uri), "%s-missing", cfg.key_uri);
    missing.key_uri = uri;
    expect_status(agent_identity_resolve(id, &missing, err, sizeof(err)),
                  AGENT_IDENTITY_OBJECT_NOT_FOUND, "resolve of a missing key", err);
    if (agent_identity_key(id) || agent_identity_certificate(id) ||
        agent_identity_key_id(id, kid, &kid_len) != AGENT_IDENTITY_OBJECT_NOT_FOUND)
        fail("a failed resolve left a key or certificate behind");
    if (agent_token_find_label(agent_identity_token(id), "device", NULL, 0, err, sizeof(err)) != 3)
        fail("token operations fail after a failed resolve: %s", err);
    expect_status(agent_identity_resolve(id, &cfg, err, sizeof(err)), AGENT_IDENTITY_OK,
                  "agent_identity_resolve", err);
    return id;
}

static int cmd_rotate(unsigned rounds)
{
    struct agent_identity *id = open_then_resolve();
    unsigned char final_id[AGENT_TOKEN_ID_MAX];
    size_t final_len = sizeof(final_id);
    char hex[2 * AGENT_TOKEN_ID_MAX + 1];
    struct agent_token_object o[4];
    char err[512] = "";

    check_argument_validation(id);
    check_step_proofs(id);
    for (unsigned r = 1; r <= rounds; r++) {
        rotate_once(id, r);
        if (r == 1 && strcmp(token_kind, "emu") == 0)
            check_slot_exhaustion(id);
    }
    expect_status(agent_identity_key_id(id, final_id, &final_len), AGENT_IDENTITY_OK,
                  "final key id", "");
    agent_identity_free(id);

    /* A fresh load with the unchanged URIs (object=device) finds the new
     * key: the objects persisted, and the factory key did not come back. */
    id = load_identity();
    {
        unsigned char got[AGENT_TOKEN_ID_MAX];
        size_t got_len = sizeof(got);

        expect_status(agent_identity_key_id(id, got, &got_len), AGENT_IDENTITY_OK,
                      "key id after reload", "");
        if (got_len != final_len || memcmp(got, final_id, got_len) != 0)
            fail("a fresh load resolved another key than the last rotation's");
    }
    if (agent_token_find_label(agent_identity_token(id), "device", o, 4, err, sizeof(err)) != 3)
        fail("after reload, label device is not exactly 3 objects: %s", err);
    EVP_PKEY_free(sign_and_verify(agent_identity_key(id)));
    agent_identity_free(id);
    hex_of(final_id, final_len, hex);
    printf("final-id %s\n", hex);
    return 0;
}

static int cmd_verify(const char *want_hex)
{
    unsigned char want[AGENT_TOKEN_ID_MAX], got[AGENT_TOKEN_ID_MAX];
    size_t want_len = unhex(want_hex, want, sizeof(want)), got_len = sizeof(got);
    struct agent_identity *id = load_identity();
    char err[512] = "";

    expect_status(agent_identity_key_id(id, got, &got_len), AGENT_IDENTITY_OK, "key id", "");
    if (got_len != want_len || memcmp(got, want, got_len) != 0)
        fail("a fresh process resolved another key than %s", want_hex);
    if (agent_token_find_label(agent_identity_token(id), "device", NULL, 0, err, sizeof(err)) != 3)
        fail("label device is not exactly 3 objects in a fresh process: %s", err);
    EVP_PKEY_free(sign_and_verify(agent_identity_key(id)));
    agent_identity_free(id);
    return 0;
}

static int cmd_unsafe(const char *key_hex)
{
    unsigned char key_id[AGENT_TOKEN_ID_MAX];
    size_t len = unhex(key_hex, key_id, sizeof(key_id));
    struct agent_identity *id = load_identity();
    EVP_PKEY *k = NULL;
    char err[512] = "";

    expect_status(agent_token_key_by_id(agent_identity_token(id), key_id, len, &k, err, sizeof(err)),
                  AGENT_IDENTITY_UNSAFE_KEY, "key_by_id of a not-sensitive key", err);
    if (k || !strstr(err, "CKA_SENSITIVE"))
        fail("unsafe key: key returned or message without the reason: %s", err);
    agent_identity_free(id);
    return 0;
}

int main(int argc, char **argv)
{
    load_config();
    snprintf(journal_dir, sizeof(journal_dir), "/tmp/trustlink-driver-XXXXXX");
    if (!mkdtemp(journal_dir))
        fail("mkdtemp for the journal");
    atexit(remove_journal_dir);
    if (argc == 3 && strcmp(argv[1], "rotate") == 0)
        return cmd_rotate((unsigned)atoi(argv[2]));
    if (argc == 3 && strcmp(argv[1], "verify") == 0)
        return cmd_verify(argv[2]);
    if (argc == 3 && strcmp(argv[1], "unsafe") == 0)
        return cmd_unsafe(argv[2]);
    fprintf(stderr, "usage: identity_token_driver rotate ROUNDS | verify HEX | unsafe HEX\n");
    return 2;
}
