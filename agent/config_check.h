/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a configuration needs from the system before it can be used, short
 * of contacting the token or the broker: the checks `trustlinkd
 * --check-config`, start-up and SIGHUP share.
 *
 * Checked: identity.key (and a pkcs11: certificate) parse with p11-kit;
 * identity.module is a readable regular file; a PEM certificate, the
 * chain file, broker.ca_file and rotation.issuing_ca_file exist and hold
 * at least one certificate; broker.ca_dir is a directory; every MQTT
 * topic the agent uses is valid UTF-8 without wildcards; the PIN source
 * is readable and passes the PIN file rules (owner, mode), except a
 * systemd credential looked at outside the service.
 * Must never: load the module, read the token, open a connection, keep
 * or print the PIN.
 */
#ifndef TRUSTLINK_AGENT_CONFIG_CHECK_H
#define TRUSTLINK_AGENT_CONFIG_CHECK_H

#include <stddef.h>

struct agent_config;

/* 0 when every check passes; -1 with err naming the JSON path, what is
 * wrong and what to do. */
int agent_config_check_system(const struct agent_config *cfg, char *err, size_t err_len);

#endif
