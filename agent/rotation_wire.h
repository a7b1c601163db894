/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CSR exchange on the wire: the request payload a device publishes
 * and the reading of the CA's answers, for both profiles (trustlink and
 * AWS IoT CreateCertificateFromCsr). Topics and formats: README.md, "Key
 * rotation".
 *
 * Owns: payload field names per profile, the request_id match, the limits
 * on what an answer may hold.
 * Must never: trust an answer (agent/cert_check.c validates the
 * certificate); touch the token or the network.
 */
#ifndef TRUSTLINK_AGENT_ROTATION_WIRE_H
#define TRUSTLINK_AGENT_ROTATION_WIRE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

#define ROTATION_WIRE_MAX_ANSWER (64 * 1024)

enum rotation_answer {
    ROTATION_ANSWER_IGNORE = 0,  /* an answer to another request: not ours */
    ROTATION_ANSWER_CERTIFICATE, /* *pem_out holds the certificate text */
    ROTATION_ANSWER_REJECTED,    /* the CA said no: err holds its reason */
    ROTATION_ANSWER_MALFORMED,   /* not an answer we can read: err says why */
};

/* The request JSON (malloc'd string), or NULL when out of memory. */
char *rotation_wire_request(enum agent_rotation_profile profile, const char *request_id,
                            const char *csr_pem);

/* Reads a message that arrived on the accepted (accepted true) or the
 * rejected topic while request_id is outstanding. */
enum rotation_answer rotation_wire_answer(enum agent_rotation_profile profile, bool accepted,
                                          const char *request_id, const void *payload, size_t len,
                                          char **pem_out, char *err, size_t err_len);

#endif
