/* SPDX-License-Identifier: Apache-2.0 */
/* The attribute helper: C_GetAttributeValue's two-call convention in every
 * case, mixed templates, find matching and template validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "attributes.h"

static bool value_is_sensitive(const p11_attrs *obj, CK_ATTRIBUTE_TYPE type)
{
    (void)obj;
    return type == CKA_VALUE;
}

static void make_obj(p11_attrs *a)
{
    static const char label[] = "device";
    p11_attrs_init(a);
    assert_int_equal(p11_attrs_set_ulong(a, CKA_CLASS, CKO_PRIVATE_KEY), CKR_OK);
    assert_int_equal(p11_attrs_set(a, CKA_LABEL, label, 6), CKR_OK);
    assert_int_equal(p11_attrs_set_bool(a, CKA_SIGN, true), CKR_OK);
    assert_int_equal(p11_attrs_set(a, CKA_ID, NULL, 0), CKR_OK);
    (void)label;
}

static void test_get_with_null_buffer_reports_length(void **state)
{
    p11_attrs a;
    CK_ATTRIBUTE t[] = {{CKA_LABEL, NULL, 0}, {CKA_ID, NULL, 99}};
    (void)state;
    make_obj(&a);
    assert_int_equal(p11_attrs_copy_out(&a, t, 2, value_is_sensitive), CKR_OK);
    assert_int_equal(t[0].ulValueLen, 6);
    assert_int_equal(t[1].ulValueLen, 0);
    p11_attrs_free(&a);
}

static void test_get_with_exact_buffer_copies_value(void **state)
{
    p11_attrs a;
    char buf[6];
    CK_ATTRIBUTE t[] = {{CKA_LABEL, buf, sizeof(buf)}};
    (void)state;
    make_obj(&a);
    assert_int_equal(p11_attrs_copy_out(&a, t, 1, value_is_sensitive), CKR_OK);
    assert_int_equal(t[0].ulValueLen, 6);
    assert_memory_equal(buf, "device", 6);
    p11_attrs_free(&a);
}

static void test_get_with_large_buffer_sets_actual_length(void **state)
{
    p11_attrs a;
    char buf[64];
    CK_ATTRIBUTE t[] = {{CKA_LABEL, buf, sizeof(buf)}};
    (void)state;
    make_obj(&a);
    assert_int_equal(p11_attrs_copy_out(&a, t, 1, value_is_sensitive), CKR_OK);
    assert_int_equal(t[0].ulValueLen, 6);
    p11_attrs_free(&a);
}

static void test_get_with_small_buffer_is_buffer_too_small_and_unavailable(void **state)
{
    p11_attrs a;
    char buf[5] = "xxxxx";
    CK_ATTRIBUTE t[] = {{CKA_LABEL, buf, sizeof(buf)}};
    (void)state;
    make_obj(&a);
    assert_int_equal(p11_attrs_copy_out(&a, t, 1, value_is_sensitive), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_memory_equal(buf, "xxxxx", 5);
    p11_attrs_free(&a);
}

static void test_get_sensitive_is_attribute_sensitive_and_unavailable(void **state)
{
    p11_attrs a;
    char buf[32];
    CK_ATTRIBUTE t[] = {{CKA_VALUE, buf, sizeof(buf)}};
    (void)state;
    make_obj(&a);
    assert_int_equal(p11_attrs_copy_out(&a, t, 1, value_is_sensitive), CKR_ATTRIBUTE_SENSITIVE);
    assert_int_equal(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    p11_attrs_free(&a);
}

static void test_get_unknown_is_type_invalid_and_unavailable(void **state)
{
    p11_attrs a;
    CK_ATTRIBUTE t[] = {{CKA_MODULUS, NULL, 0}};
    (void)state;
    make_obj(&a);
    assert_int_equal(p11_attrs_copy_out(&a, t, 1, value_is_sensitive), CKR_ATTRIBUTE_TYPE_INVALID);
    assert_int_equal(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    p11_attrs_free(&a);
}

static void test_get_mixed_template_processes_every_entry(void **state)
{
    p11_attrs a;
    char small[2], label[16];
    CK_BBOOL sign = CK_FALSE;
    CK_ATTRIBUTE t[] = {
        {CKA_LABEL, small, sizeof(small)},  /* too small */
        {CKA_MODULUS, NULL, 0},             /* unknown */
        {CKA_SIGN, &sign, sizeof(sign)},    /* fine, after the failures */
        {CKA_LABEL, label, sizeof(label)},  /* fine */
        {CKA_ID, NULL, 0},                  /* length query */
    };
    (void)state;
    make_obj(&a);
    assert_int_equal(p11_attrs_copy_out(&a, t, 5, value_is_sensitive), CKR_ATTRIBUTE_TYPE_INVALID);
    assert_int_equal(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(t[2].ulValueLen, 1);
    assert_int_equal(sign, CK_TRUE);
    assert_int_equal(t[3].ulValueLen, 6);
    assert_memory_equal(label, "device", 6);
    assert_int_equal(t[4].ulValueLen, 0);
    p11_attrs_free(&a);
}

static void test_get_precedence_sensitive_over_invalid_over_too_small(void **state)
{
    p11_attrs a;
    char small[1];
    CK_ATTRIBUTE t1[] = {{CKA_LABEL, small, 1}, {CKA_MODULUS, NULL, 0}, {CKA_VALUE, NULL, 0}};
    CK_ATTRIBUTE t2[] = {{CKA_MODULUS, NULL, 0}, {CKA_LABEL, small, 1}};
    (void)state;
    make_obj(&a);
    assert_int_equal(p11_attrs_copy_out(&a, t1, 3, value_is_sensitive), CKR_ATTRIBUTE_SENSITIVE);
    assert_int_equal(p11_attrs_copy_out(&a, t2, 2, value_is_sensitive), CKR_ATTRIBUTE_TYPE_INVALID);
    assert_int_equal(t2[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    p11_attrs_free(&a);
}

static void test_set_replaces_and_remove_deletes(void **state)
{
    p11_attrs a;
    const CK_ATTRIBUTE *at;
    (void)state;
    make_obj(&a);
    assert_int_equal(p11_attrs_set(&a, CKA_LABEL, "new", 3), CKR_OK);
    at = p11_attrs_find(&a, CKA_LABEL);
    assert_int_equal(at->ulValueLen, 3);
    assert_int_equal(a.n, 4);
    p11_attrs_remove(&a, CKA_LABEL);
    assert_null(p11_attrs_find(&a, CKA_LABEL));
    assert_int_equal(a.n, 3);
    assert_int_equal(p11_attrs_default_bool(&a, CKA_SIGN, false), CKR_OK);
    assert_true(p11_attrs_bool(&a, CKA_SIGN, false));
    p11_attrs_free(&a);
}

static void test_match_requires_every_entry_equal(void **state)
{
    p11_attrs a;
    CK_OBJECT_CLASS priv = CKO_PRIVATE_KEY, pub = CKO_PUBLIC_KEY;
    CK_ATTRIBUTE yes[] = {{CKA_CLASS, &priv, sizeof(priv)}, {CKA_LABEL, "device", 6}};
    CK_ATTRIBUTE wrong_class[] = {{CKA_CLASS, &pub, sizeof(pub)}};
    CK_ATTRIBUTE prefix[] = {{CKA_LABEL, "dev", 3}};
    CK_ATTRIBUTE absent[] = {{CKA_MODULUS, "x", 1}};
    CK_ATTRIBUTE empty_id[] = {{CKA_ID, NULL, 0}};
    CK_ATTRIBUTE sensitive[] = {{CKA_VALUE, NULL, 0}};
    (void)state;
    make_obj(&a);
    assert_true(p11_attrs_match(&a, NULL, 0, value_is_sensitive));
    assert_true(p11_attrs_match(&a, yes, 2, value_is_sensitive));
    assert_false(p11_attrs_match(&a, wrong_class, 1, value_is_sensitive));
    assert_false(p11_attrs_match(&a, prefix, 1, value_is_sensitive));
    assert_false(p11_attrs_match(&a, absent, 1, value_is_sensitive));
    assert_true(p11_attrs_match(&a, empty_id, 1, value_is_sensitive));
    assert_false(p11_attrs_match(&a, sensitive, 1, value_is_sensitive));
    p11_attrs_free(&a);
}

static const struct p11_attr_rule rules[] = {
    {CKA_CLASS, P11_K_ULONG, P11_AF_REQ_CREATE | P11_AF_REQ_GEN},
    {CKA_LABEL, P11_K_BYTES, P11_AF_MODIFIABLE},
    {CKA_TOKEN, P11_K_BOOL, 0},
    {CKA_LOCAL, P11_K_BOOL, P11_AF_RO_CREATE | P11_AF_RO_GEN},
    {CKA_START_DATE, P11_K_DATE, P11_AF_MODIFIABLE},
};

static void test_template_check_accepts_valid_create(void **state)
{
    CK_OBJECT_CLASS c = CKO_DATA;
    CK_BBOOL t = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &c, sizeof(c)}, {CKA_TOKEN, &t, 1}, {CKA_LABEL, "x", 1},
                           {CKA_START_DATE, NULL, 0}};
    (void)state;
    assert_int_equal(p11_template_check(rules, 5, tmpl, 4, P11_TMPL_CREATE), CKR_OK);
}

static void test_template_check_missing_required_is_incomplete(void **state)
{
    CK_ATTRIBUTE tmpl[] = {{CKA_LABEL, "x", 1}};
    (void)state;
    assert_int_equal(p11_template_check(rules, 5, tmpl, 1, P11_TMPL_CREATE), CKR_TEMPLATE_INCOMPLETE);
    assert_int_equal(p11_template_check(rules, 5, tmpl, 1, P11_TMPL_SET), CKR_OK);
}

static void test_template_check_conflicting_duplicates_are_inconsistent(void **state)
{
    CK_OBJECT_CLASS c = CKO_DATA;
    CK_ATTRIBUTE dup_same[] = {{CKA_CLASS, &c, sizeof(c)}, {CKA_LABEL, "x", 1}, {CKA_LABEL, "x", 1}};
    CK_ATTRIBUTE dup_diff[] = {{CKA_CLASS, &c, sizeof(c)}, {CKA_LABEL, "x", 1}, {CKA_LABEL, "y", 1}};
    (void)state;
    assert_int_equal(p11_template_check(rules, 5, dup_same, 3, P11_TMPL_CREATE), CKR_OK);
    assert_int_equal(p11_template_check(rules, 5, dup_diff, 3, P11_TMPL_CREATE), CKR_TEMPLATE_INCONSISTENT);
}

static void test_template_check_bad_values_are_value_invalid(void **state)
{
    CK_OBJECT_CLASS c = CKO_DATA;
    CK_BBOOL two = 2;
    CK_ULONG l = 1;
    CK_ATTRIBUTE bad_bool[] = {{CKA_CLASS, &c, sizeof(c)}, {CKA_TOKEN, &two, 1}};
    CK_ATTRIBUTE bool_size[] = {{CKA_CLASS, &c, sizeof(c)}, {CKA_TOKEN, &l, sizeof(l)}};
    CK_ATTRIBUTE ulong_size[] = {{CKA_CLASS, &c, 1}};
    CK_ATTRIBUTE null_value[] = {{CKA_CLASS, &c, sizeof(c)}, {CKA_LABEL, NULL, 4}};
    CK_ATTRIBUTE date_size[] = {{CKA_CLASS, &c, sizeof(c)}, {CKA_START_DATE, "2024", 4}};
    (void)state;
    assert_int_equal(p11_template_check(rules, 5, bad_bool, 2, P11_TMPL_CREATE), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(p11_template_check(rules, 5, bool_size, 2, P11_TMPL_CREATE), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(p11_template_check(rules, 5, ulong_size, 1, P11_TMPL_CREATE), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(p11_template_check(rules, 5, null_value, 2, P11_TMPL_CREATE), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(p11_template_check(rules, 5, date_size, 2, P11_TMPL_CREATE), CKR_ATTRIBUTE_VALUE_INVALID);
}

static void test_template_check_unknown_type_is_type_invalid(void **state)
{
    CK_OBJECT_CLASS c = CKO_DATA;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &c, sizeof(c)}, {CKA_MODULUS, "x", 1}};
    (void)state;
    assert_int_equal(p11_template_check(rules, 5, tmpl, 2, P11_TMPL_CREATE), CKR_ATTRIBUTE_TYPE_INVALID);
}

static void test_template_check_token_computed_is_read_only(void **state)
{
    CK_OBJECT_CLASS c = CKO_DATA;
    CK_BBOOL t = CK_TRUE;
    CK_ATTRIBUTE create[] = {{CKA_CLASS, &c, sizeof(c)}, {CKA_LOCAL, &t, 1}};
    CK_ATTRIBUTE set_token[] = {{CKA_TOKEN, &t, 1}};
    CK_ATTRIBUTE set_label[] = {{CKA_LABEL, "z", 1}};
    (void)state;
    assert_int_equal(p11_template_check(rules, 5, create, 2, P11_TMPL_CREATE), CKR_ATTRIBUTE_READ_ONLY);
    assert_int_equal(p11_template_check(rules, 5, create, 2, P11_TMPL_GENERATE), CKR_ATTRIBUTE_READ_ONLY);
    assert_int_equal(p11_template_check(rules, 5, set_token, 1, P11_TMPL_SET), CKR_ATTRIBUTE_READ_ONLY);
    assert_int_equal(p11_template_check(rules, 5, set_label, 1, P11_TMPL_SET), CKR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_with_null_buffer_reports_length),
        cmocka_unit_test(test_get_with_exact_buffer_copies_value),
        cmocka_unit_test(test_get_with_large_buffer_sets_actual_length),
        cmocka_unit_test(test_get_with_small_buffer_is_buffer_too_small_and_unavailable),
        cmocka_unit_test(test_get_sensitive_is_attribute_sensitive_and_unavailable),
        cmocka_unit_test(test_get_unknown_is_type_invalid_and_unavailable),
        cmocka_unit_test(test_get_mixed_template_processes_every_entry),
        cmocka_unit_test(test_get_precedence_sensitive_over_invalid_over_too_small),
        cmocka_unit_test(test_set_replaces_and_remove_deletes),
        cmocka_unit_test(test_match_requires_every_entry_equal),
        cmocka_unit_test(test_template_check_accepts_valid_create),
        cmocka_unit_test(test_template_check_missing_required_is_incomplete),
        cmocka_unit_test(test_template_check_conflicting_duplicates_are_inconsistent),
        cmocka_unit_test(test_template_check_bad_values_are_value_invalid),
        cmocka_unit_test(test_template_check_unknown_type_is_type_invalid),
        cmocka_unit_test(test_template_check_token_computed_is_read_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
