/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ATECC608 protocol constants: word addresses, packet layout, opcodes,
 * status bytes, zones and config-zone offsets, maximum execution times.
 *
 * This header and crc.h are the only things the driver and the emulator
 * share (DESIGN.md). It holds facts from shared/atecc608.md and nothing
 * else: no behaviour, no policy. Each value is a documented chip fact.
 */
#ifndef ATECC608_PROTOCOL_H
#define ATECC608_PROTOCOL_H

#include <stdint.h>

/* I2C 7-bit addresses (the config zone stores the 8-bit form in byte 16). */
enum {
    ATECC_ADDR_DEFAULT = 0x60,   /* unconfigured / TrustCUSTOM */
    ATECC_ADDR_TRUSTANDGO = 0x35,
    ATECC_ADDR_TRUSTFLEX = 0x36,
};

/* First byte of every write: the word address. */
enum {
    ATECC_WORD_RESET = 0x00,     /* reset the I/O address counter */
    ATECC_WORD_SLEEP = 0x01,
    ATECC_WORD_IDLE = 0x02,
    ATECC_WORD_COMMAND = 0x03,
};

/* Wake timing (TNG "AC Parameters"). */
enum {
    ATECC_T_WLO_US = 60,          /* SDA low at least this long */
    ATECC_T_WHI_US = 1500,        /* wait before talking after a wake */
    ATECC_T_WHI_SELFTEST_US = 20000, /* ... when power-on self-test is on */
};

/* Watchdog after wake, ChipMode bit 2 clear (min/typ/max) and set. */
enum {
    ATECC_WATCHDOG_MIN_MS = 700,
    ATECC_WATCHDOG_TYP_MS = 1300,
    ATECC_WATCHDOG_MAX_MS = 1700,
    ATECC_WATCHDOG_LONG_MS = 13000,
};

/* Packet layout: count, opcode, param1, param2 (LE), data, CRC (LE). */
enum {
    ATECC_PKT_COUNT = 0,
    ATECC_PKT_OPCODE = 1,
    ATECC_PKT_PARAM1 = 2,
    ATECC_PKT_PARAM2 = 3,
    ATECC_PKT_DATA = 5,
    ATECC_PKT_OVERHEAD = 7,       /* count + opcode + p1 + p2(2) + crc(2) */
    ATECC_CMD_DATA_MAX = 128,     /* Verify external: signature + public key */
    ATECC_CMD_MAX = ATECC_PKT_OVERHEAD + ATECC_CMD_DATA_MAX,
    ATECC_RSP_STATUS_COUNT = 4,   /* count + status + crc(2) */
    ATECC_RSP_MIN = 4,
    ATECC_RSP_MAX = 1 + 64 + 2,   /* count + 64-byte output + crc */
};

/* Opcodes. */
enum {
    ATECC_OP_READ = 0x02,
    ATECC_OP_MAC = 0x08,
    ATECC_OP_WRITE = 0x12,
    ATECC_OP_GENDIG = 0x15,
    ATECC_OP_NONCE = 0x16,
    ATECC_OP_LOCK = 0x17,
    ATECC_OP_RANDOM = 0x1B,
    ATECC_OP_DERIVEKEY = 0x1C,
    ATECC_OP_UPDATEEXTRA = 0x20,
    ATECC_OP_COUNTER = 0x24,
    ATECC_OP_CHECKMAC = 0x28,
    ATECC_OP_INFO = 0x30,
    ATECC_OP_GENKEY = 0x40,
    ATECC_OP_SIGN = 0x41,
    ATECC_OP_ECDH = 0x43,
    ATECC_OP_VERIFY = 0x45,
    ATECC_OP_PRIVWRITE = 0x46,
    ATECC_OP_SHA = 0x47,
    ATECC_OP_AES = 0x51,
    ATECC_OP_KDF = 0x56,
    ATECC_OP_SELFTEST = 0x77,
    ATECC_OP_SECUREBOOT = 0x80,
};

/* Status bytes (a response of count 4 carries one). */
enum {
    ATECC_STATUS_SUCCESS = 0x00,
    ATECC_STATUS_MISCOMPARE = 0x01,
    ATECC_STATUS_PARSE_ERROR = 0x03,
    ATECC_STATUS_ECC_FAULT = 0x05,
    ATECC_STATUS_SELFTEST_ERROR = 0x07,
    ATECC_STATUS_HEALTH_TEST_ERROR = 0x08,
    ATECC_STATUS_EXECUTION_ERROR = 0x0F,
    ATECC_STATUS_AFTER_WAKE = 0x11,
    ATECC_STATUS_WATCHDOG_ABOUT_TO_EXPIRE = 0xEE,
    ATECC_STATUS_CRC_ERROR = 0xFF,
};

/* Command modes used by this project. */
enum {
    ATECC_INFO_REVISION = 0x00,
    ATECC_RANDOM_SEED_UPDATE = 0x00,
    ATECC_NONCE_PASSTHROUGH = 0x03,       /* 32 bytes into TempKey */
    ATECC_NONCE_PASSTHROUGH_MSGDIG = 0x43, /* 32 bytes into message digest buffer */
    ATECC_NONCE_PASSTHROUGH_ALTKEY = 0x83,
    ATECC_NONCE_PASSTHROUGH_64 = 0x23,
    ATECC_NONCE_PASSTHROUGH_64_MSGDIG = 0x63,
    ATECC_GENKEY_PUBLIC = 0x00,
    ATECC_GENKEY_PRIVATE = 0x04,
    ATECC_GENKEY_PUBLIC_DIGEST = 0x08,
    ATECC_GENKEY_PRIVATE_DIGEST = 0x0C,
    ATECC_GENKEY_PUBKEY_DIGEST = 0x10,
    ATECC_SIGN_EXTERNAL = 0x80,           /* message in TempKey */
    ATECC_SIGN_EXTERNAL_MSGDIG = 0xA0,    /* message in message digest buffer */
    ATECC_SIGN_INTERNAL = 0x00,
    ATECC_VERIFY_STORED = 0x00,
    ATECC_VERIFY_VALIDATE_EXTERNAL = 0x01,
    ATECC_VERIFY_EXTERNAL = 0x02,
    ATECC_VERIFY_VALIDATE = 0x03,
    ATECC_VERIFY_INVALIDATE = 0x07,
    ATECC_VERIFY_MSGDIG = 0x20,           /* flag: message in digest buffer */
    ATECC_VERIFY_KEY_P256 = 0x0004,       /* param2 for external verify */
    ATECC_ECDH_SLOT_LEGACY = 0x00,
    ATECC_ECDH_OUTPUT_CLEAR = 0x0C,
    ATECC_ECDH_OUTPUT_ENCRYPTED = 0x0E,
    ATECC_ECDH_TO_TEMPKEY = 0x08,
    /* CHOICE (facts sheet silent): SelfTest mode bits 0 RNG, 1 ECDSA sign,
     * 2 ECDSA verify, 3 ECDH, 4 AES, 5 SHA; 0x3F runs them all. */
    ATECC_SELFTEST_ALL = 0x3F,
    ATECC_LOCK_CONFIG = 0x00,
    ATECC_LOCK_DATA = 0x01,
    ATECC_LOCK_SLOT = 0x02,               /* | slot << 2 */
    ATECC_LOCK_NO_CRC = 0x80,
    ATECC_ZONE_CONFIG = 0x00,
    ATECC_ZONE_OTP = 0x01,
    ATECC_ZONE_DATA = 0x02,
    ATECC_ZONE_READWRITE_32 = 0x80,       /* param1 flag: 32-byte access */
    ATECC_WRITE_ENCRYPTED = 0x40,
};

/* Wake response: count 4, status 0x11, CRC 33 43. */
#define ATECC_WAKE_RESPONSE { 0x04, 0x11, 0x33, 0x43 }

/* Zones. */
enum {
    ATECC_CONFIG_SIZE = 128,
    ATECC_OTP_SIZE = 64,
    ATECC_SLOT_COUNT = 16,
    ATECC_BLOCK_SIZE = 32,
    ATECC_WORD_SIZE = 4,
    ATECC_SERIAL_SIZE = 9,
    ATECC_P256_PUBKEY_SIZE = 64,     /* X || Y */
    ATECC_P256_SIGNATURE_SIZE = 64,  /* R || S */
    ATECC_P256_PRIVKEY_SIZE = 32,
    ATECC_DIGEST_SIZE = 32,
    ATECC_RANDOM_SIZE = 32,
};

/* Config-zone byte offsets. */
enum {
    ATECC_CFG_SN0 = 0,            /* serial bytes 0-3 */
    ATECC_CFG_REVISION = 4,       /* 4-7 */
    ATECC_CFG_SN4 = 8,            /* serial bytes 4-8 */
    ATECC_CFG_I2C_ADDRESS = 16,
    ATECC_CFG_COUNT_MATCH = 18,
    ATECC_CFG_CHIP_MODE = 19,
    ATECC_CFG_SLOT_CONFIG = 20,   /* 2 bytes per slot, LE */
    ATECC_CFG_COUNTER0 = 52,
    ATECC_CFG_COUNTER1 = 60,
    ATECC_CFG_USE_LOCK = 68,
    ATECC_CFG_VOLATILE_KEY_PERMISSION = 69,
    ATECC_CFG_SECURE_BOOT = 70,
    ATECC_CFG_USER_EXTRA = 84,
    ATECC_CFG_USER_EXTRA_ADD = 85,
    ATECC_CFG_LOCK_VALUE = 86,    /* data/OTP lock */
    ATECC_CFG_LOCK_CONFIG = 87,
    ATECC_CFG_SLOT_LOCKED = 88,   /* 2 bytes, bit N = slot N, 1 unlocked */
    ATECC_CFG_CHIP_OPTIONS = 90,
    ATECC_CFG_X509_FORMAT = 92,
    ATECC_CFG_KEY_CONFIG = 96,    /* 2 bytes per slot, LE */
    ATECC_CFG_WRITABLE_FIRST = 16, /* Write may touch 16..127 before lock */
};

enum {
    ATECC_LOCK_STATE_UNLOCKED = 0x55,
    ATECC_LOCK_STATE_LOCKED = 0x00,
};

/* ChipMode bits. */
enum {
    ATECC_CHIPMODE_USER_EXTRA_ADD = 0x01,
    ATECC_CHIPMODE_TTL_ENABLE = 0x02,
    ATECC_CHIPMODE_LONG_WATCHDOG = 0x04,
    ATECC_CHIPMODE_CLOCK_MASK = 0xF8,
    ATECC_CHIPMODE_CLOCK_M0 = 0x00,
    ATECC_CHIPMODE_CLOCK_M1 = 0x28,
    ATECC_CHIPMODE_CLOCK_M2 = 0x68,
};

/* ChipOptions bits. */
enum {
    ATECC_CHIPOPT_POWERON_SELFTEST = 0x0001,
};

/* SlotConfig bits. */
enum {
    ATECC_SLOTCFG_READKEY_MASK = 0x000F,
    ATECC_SLOTCFG_EXT_SIGN = 0x0001,      /* private key: external Sign */
    ATECC_SLOTCFG_INT_SIGN = 0x0002,      /* private key: internal Sign */
    ATECC_SLOTCFG_ECDH = 0x0004,          /* private key: ECDH */
    ATECC_SLOTCFG_ECDH_TO_NEXT = 0x0008,  /* legacy ECDH output to slot N|1 */
    ATECC_SLOTCFG_NO_MAC = 0x0010,
    ATECC_SLOTCFG_LIMITED_USE = 0x0020,
    ATECC_SLOTCFG_ENCRYPT_READ = 0x0040,
    ATECC_SLOTCFG_IS_SECRET = 0x0080,
    ATECC_SLOTCFG_WRITEKEY_SHIFT = 8,
    ATECC_SLOTCFG_WRITECONFIG_SHIFT = 12,
    ATECC_SLOTCFG_GENKEY_ALLOWED = 0x2000, /* private key: GenKey may create */
    ATECC_SLOTCFG_PRIVWRITE_ALLOWED = 0x4000,
};

/* KeyConfig bits. */
enum {
    ATECC_KEYCFG_PRIVATE = 0x0001,
    ATECC_KEYCFG_PUBINFO = 0x0002,
    ATECC_KEYCFG_KEYTYPE_SHIFT = 2,
    ATECC_KEYCFG_KEYTYPE_MASK = 0x001C,
    ATECC_KEYTYPE_P256 = 4,
    ATECC_KEYTYPE_AES = 6,
    ATECC_KEYTYPE_DATA = 7,
    ATECC_KEYCFG_LOCKABLE = 0x0020,
    ATECC_KEYCFG_REQ_RANDOM = 0x0040,
    ATECC_KEYCFG_REQ_AUTH = 0x0080,
    ATECC_KEYCFG_PERSISTENT_DISABLE = 0x1000,
};

/* Clock divider selected by ChipMode bits 3-7. */
enum atecc_clock_divider {
    ATECC_CLOCK_M0 = 0,
    ATECC_CLOCK_M1 = 1,
    ATECC_CLOCK_M2 = 2,
};

/* Info revision byte 3: 0x02 608A, 0x03 and later 608B. */
enum {
    ATECC_REVISION_608A = 0x02,
    ATECC_REVISION_608B = 0x03,
};

#endif
