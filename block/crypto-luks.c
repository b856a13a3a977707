/*
 * The LUKS1 header inside an encrypted qcow2 image: decoded for `info`
 * only (no key is needed, none is used).  Layout per the LUKS1 on-disk
 * format specification.
 */
#include "qemu/bswap.h"
#include "block/qcow2.h"

#define LUKS_MAGIC "LUKS\xba\xbe"
#define LUKS_MAGIC_LEN 6
#define LUKS_VERSION 1
#define LUKS_HEADER_SIZE 592
#define LUKS_NAME_LEN 32
#define LUKS_UUID_LEN 40
#define LUKS_NUM_SLOTS 8
#define LUKS_SLOT_SIZE 48
#define LUKS_SLOT_ACTIVE 0x00ac71f3u
#define LUKS_SECTOR_SIZE 512

/* Field offsets in the header. */
#define LUKS_OFF_CIPHER_NAME 8
#define LUKS_OFF_CIPHER_MODE 40
#define LUKS_OFF_HASH_SPEC 72
#define LUKS_OFF_PAYLOAD 104
#define LUKS_OFF_KEY_BYTES 108
#define LUKS_OFF_MK_ITER 164
#define LUKS_OFF_UUID 168
#define LUKS_OFF_SLOTS 208

static char *luks_str(const uint8_t *hdr, size_t off, size_t len)
{
    return g_strndup((const char *)hdr + off, len);
}

static int luks_parse_cipher(const char *name, uint32_t key_bytes,
                             bool xts, QCryptoCipherAlgorithm *alg)
{
    static const struct {
        const char *name;
        uint32_t key_bytes;
        QCryptoCipherAlgorithm alg;
    } table[] = {
        { "aes", 16, QCRYPTO_CIPHER_ALG_AES_128 },
        { "aes", 24, QCRYPTO_CIPHER_ALG_AES_192 },
        { "aes", 32, QCRYPTO_CIPHER_ALG_AES_256 },
        { "cast5", 16, QCRYPTO_CIPHER_ALG_CAST5_128 },
        { "serpent", 16, QCRYPTO_CIPHER_ALG_SERPENT_128 },
        { "serpent", 24, QCRYPTO_CIPHER_ALG_SERPENT_192 },
        { "serpent", 32, QCRYPTO_CIPHER_ALG_SERPENT_256 },
        { "twofish", 16, QCRYPTO_CIPHER_ALG_TWOFISH_128 },
        { "twofish", 24, QCRYPTO_CIPHER_ALG_TWOFISH_192 },
        { "twofish", 32, QCRYPTO_CIPHER_ALG_TWOFISH_256 },
    };

    /* XTS keys are two cipher keys back to back. */
    if (xts) {
        key_bytes /= 2;
    }
    for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
        if (!strcmp(name, table[i].name) &&
            key_bytes == table[i].key_bytes) {
            *alg = table[i].alg;
            return 0;
        }
    }
    return -EINVAL;
}

/* "xts-plain64", "cbc-essiv:sha256", ... */
static int luks_parse_mode(const char *spec, QCryptoBlockInfoLUKS *info)
{
    g_auto(GStrv) parts = g_strsplit(spec, "-", 2);
    g_auto(GStrv) iv = NULL;

    if (!parts[0] || !parts[1] ||
        !QCryptoCipherMode_parse(parts[0], &info->cipher_mode)) {
        return -EINVAL;
    }
    iv = g_strsplit(parts[1], ":", 2);
    if (!QCryptoIVGenAlgorithm_parse(iv[0], &info->ivgen_alg)) {
        return -EINVAL;
    }
    if (iv[1]) {
        if (!QCryptoHashAlgorithm_parse(iv[1], &info->ivgen_hash_alg)) {
            return -EINVAL;
        }
        info->has_ivgen_hash_alg = true;
    }
    return 0;
}

static QCryptoBlockInfoLUKSSlotList *luks_parse_slots(const uint8_t *hdr)
{
    QCryptoBlockInfoLUKSSlotList *head = NULL, **tail = &head;

    for (int i = 0; i < LUKS_NUM_SLOTS; i++) {
        const uint8_t *k = hdr + LUKS_OFF_SLOTS + i * LUKS_SLOT_SIZE;
        QCryptoBlockInfoLUKSSlot *slot = g_new0(QCryptoBlockInfoLUKSSlot, 1);

        slot->active = ldl_be_p(k) == LUKS_SLOT_ACTIVE;
        slot->key_offset = (int64_t)ldl_be_p(k + 40) * LUKS_SECTOR_SIZE;
        if (slot->active) {
            slot->has_iters = true;
            slot->iters = ldl_be_p(k + 4);
            slot->has_stripes = true;
            slot->stripes = ldl_be_p(k + 44);
        }
        *tail = g_new0(QCryptoBlockInfoLUKSSlotList, 1);
        (*tail)->value = slot;
        tail = &(*tail)->next;
    }
    return head;
}

static QCryptoBlockInfoLUKS *luks_decode(const uint8_t *hdr, Error **errp)
{
    g_autoptr(QCryptoBlockInfoLUKS) info = g_new0(QCryptoBlockInfoLUKS, 1);
    g_autofree char *cipher = luks_str(hdr, LUKS_OFF_CIPHER_NAME,
                                       LUKS_NAME_LEN);
    g_autofree char *mode = luks_str(hdr, LUKS_OFF_CIPHER_MODE,
                                     LUKS_NAME_LEN);
    g_autofree char *hash = luks_str(hdr, LUKS_OFF_HASH_SPEC, LUKS_NAME_LEN);

    if (memcmp(hdr, LUKS_MAGIC, LUKS_MAGIC_LEN)) {
        error_setg(errp, "Volume is not in LUKS format");
        return NULL;
    }
    if (lduw_be_p(hdr + LUKS_MAGIC_LEN) != LUKS_VERSION) {
        error_setg(errp, "Unsupported LUKS version %u",
                   lduw_be_p(hdr + LUKS_MAGIC_LEN));
        return NULL;
    }
    if (luks_parse_mode(mode, info) < 0 ||
        luks_parse_cipher(cipher, ldl_be_p(hdr + LUKS_OFF_KEY_BYTES),
                          info->cipher_mode == QCRYPTO_CIPHER_MODE_XTS,
                          &info->cipher_alg) < 0 ||
        !QCryptoHashAlgorithm_parse(hash, &info->hash_alg)) {
        error_setg(errp, "Unsupported LUKS cipher '%s' mode '%s' hash '%s'",
                   cipher, mode, hash);
        return NULL;
    }
    info->payload_offset = (int64_t)ldl_be_p(hdr + LUKS_OFF_PAYLOAD) *
                           LUKS_SECTOR_SIZE;
    info->master_key_iters = ldl_be_p(hdr + LUKS_OFF_MK_ITER);
    info->uuid = luks_str(hdr, LUKS_OFF_UUID, LUKS_UUID_LEN);
    info->slots = luks_parse_slots(hdr);
    return g_steal_pointer(&info);
}

ImageInfoSpecificQCow2Encryption *qcow2_crypto_info(BlockDriverState *bs,
                                                    Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    g_autoptr(ImageInfoSpecificQCow2Encryption) enc =
        g_new0(ImageInfoSpecificQCow2Encryption, 1);
    uint8_t hdr[LUKS_HEADER_SIZE];
    QCryptoBlockInfoLUKS *luks;

    if (s->crypt_method == QCOW_CRYPT_AES) {
        enc->format = BLOCKDEV_QCOW2_ENCRYPTION_FORMAT_AES;
        return g_steal_pointer(&enc);
    }
    if (!s->crypto_header_offset && !s->crypto_header_length) {
        /* 7.2 crashes here; we refuse the image instead. */
        error_setg(errp, "Missing CRYPTO header for crypt method %" PRIu32,
                   s->crypt_method);
        return NULL;
    }
    if (s->crypto_header_length < LUKS_HEADER_SIZE) {
        error_setg(errp, "Request for data outside of extension header");
        return NULL;
    }
    if (bdrv_file_pread(bs->file, s->crypto_header_offset, sizeof(hdr), hdr,
                        errp) < 0) {
        return NULL;
    }
    luks = luks_decode(hdr, errp);
    if (!luks) {
        return NULL;
    }
    enc->format = BLOCKDEV_QCOW2_ENCRYPTION_FORMAT_LUKS;
    enc->u.luks = *luks;
    g_free(luks);
    return g_steal_pointer(&enc);
}
