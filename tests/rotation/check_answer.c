/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test driver: runs agent_cert_check on a PEM answer file.
 *   rotation_check_answer PEM_FILE CSR_FILE CA_FILE
 * The expected key is the CSR's public key; "now" is the current time.
 * Prints "<result-name>: <message>" and exits with the result number.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/pem.h>

#include "cert_check.h"

int main(int argc, char **argv)
{
    FILE *f;
    X509_REQ *req = NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    char err[512] = "";
    int rc = AGENT_CERT_INTERNAL;

    if (argc != 4) {
        fprintf(stderr, "usage: %s PEM_FILE CSR_FILE CA_FILE\n", argv[0]);
        return 64;
    }
    f = fopen(argv[2], "r");
    if (!f || !(req = PEM_read_X509_REQ(f, NULL, NULL, NULL))) {
        fprintf(stderr, "%s: cannot read the CSR\n", argv[2]);
        if (f)
            fclose(f);
        return 66;
    }
    fclose(f);
    f = fopen(argv[1], "r");
    if (!f) {
        fprintf(stderr, "%s: cannot open\n", argv[1]);
        X509_REQ_free(req);
        return 66;
    }
    do {
        if (len + 4096 > cap) {
            char *nb = realloc(buf, cap + 8192);
            if (!nb)
                goto out;
            buf = nb;
            cap += 8192;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    /* The identity rule as the trustlink profile applies it: the CSR's
     * subject, no current certificate (so no subjectAltName allowed). */
    rc = agent_cert_check(buf, len, X509_REQ_get0_pubkey(req),
                          &(struct agent_cert_identity){.subject = X509_REQ_get_subject_name(req)},
                          argv[3], time(NULL), NULL, NULL, err, sizeof(err));
    printf("%s: %s\n", agent_cert_check_name(rc), rc == AGENT_CERT_OK ? "certificate accepted" : err);
out:
    fclose(f);
    free(buf);
    X509_REQ_free(req);
    return rc;
}
