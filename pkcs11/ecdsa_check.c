/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ECDSA P-256 verification on the host (p11_ecdsa_verify_digest, see
 * mechanism.h): C_Verify and verify-after-sign.
 *
 * Why the EC_KEY interface: the module runs inside programs that load
 * OpenSSL engines (libp11's pkcs11 engine registers itself as the default
 * EC pkey method), and an engine's legacy pkey method cannot build a key
 * from parameters (EVP_PKEY_fromdata fails there). The EC_KEY calls work
 * under any engine: an engine EC_KEY_METHOD keeps OpenSSL's verify. So
 * this one file asks for the 1.1.1 API level, which declares them without
 * deprecation warnings.
 * Must never: touch a private key.
 */
#define OPENSSL_API_COMPAT 0x10100000L

#include "mechanism.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

CK_RV p11_ecdsa_verify_digest(const uint8_t pub[64], const uint8_t digest[32], const uint8_t sig[64])
{
    EC_KEY *key = NULL;
    ECDSA_SIG *es = NULL;
    BIGNUM *x = NULL, *y = NULL, *r = NULL, *s = NULL;
    CK_RV rv = CKR_FUNCTION_FAILED;
    int ok;

    if ((key = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1)) == NULL ||
        (x = BN_bin2bn(pub, 32, NULL)) == NULL || (y = BN_bin2bn(pub + 32, 32, NULL)) == NULL ||
        (es = ECDSA_SIG_new()) == NULL || (r = BN_bin2bn(sig, 32, NULL)) == NULL ||
        (s = BN_bin2bn(sig + 32, 32, NULL)) == NULL)
        goto cleanup;
    if (EC_KEY_set_public_key_affine_coordinates(key, x, y) != 1)
        goto cleanup;
    if (ECDSA_SIG_set0(es, r, s) != 1)
        goto cleanup;
    r = s = NULL; /* owned by es now */
    ok = ECDSA_do_verify(digest, 32, es, key);
    if (ok == 1)
        rv = CKR_OK;
    else if (ok == 0)
        rv = CKR_SIGNATURE_INVALID;
cleanup:
    BN_free(r);
    BN_free(s);
    BN_free(x);
    BN_free(y);
    ECDSA_SIG_free(es);
    EC_KEY_free(key);
    return rv;
}
