/* SPDX-License-Identifier: MIT */
/*
 * photo.c - photos made fit for weak links before they are signed
 * (docs/contract.md, attachments): a JPEG larger than the longest side
 * asked for is decoded at a smaller scale (libjpeg-turbo's DCT scaling,
 * n/8) and encoded again at the quality asked for; a smaller one is
 * rewritten losslessly. Either way only the image is kept: the EXIF block
 * (camera, time, GPS location), comments and other markers are dropped,
 * so a photo of a house does not carry where it was taken unless the
 * officer asks (--keep-metadata, which leaves the file as it is).
 *
 * The EXIF orientation tag (a phone held sideways stores the pixels as
 * the sensor saw them and says "turn 90 degrees to show") is applied
 * before the tag goes with the rest: the lossless rewrite turns the DCT
 * blocks (tjTransform, edges that do not fill a block trimmed: at most 15
 * pixels), the re-encode turns the decoded pixels. So the stored photo
 * shows upright in every viewer, those that ignore EXIF included.
 *
 * Depends on util/ and libturbojpeg only (Debian's libjpeg-turbo: kept
 * up to date with security fixes, and the fastest JPEG codec on the
 * phones and old laptops the officers have). No SQLite.
 */
#include "ntm_store.h"

#include <stdint.h>
#include <string.h>
#include <turbojpeg.h>

/* A photo libjpeg-turbo cannot read (or write): what it said. */
static enum ntm_err
tj_fail(tjhandle h, struct ntm_error *err)
{
    return ntm_error_set(
        err, NTM_EINVAL,
        N_("the photo cannot be read as a JPEG (%s): attach it with "
           "--keep-metadata to keep it exactly as it is"),
        h ? tjGetErrorStr2(h) : "libturbojpeg failed");
}

/* The EXIF orientation (1-8) of the JPEG in[0, len), 1 when none: the
 * tag 0x0112 of the TIFF IFD0 of the first APP1 "Exif" segment. Reads
 * only within the segment's bounds. */
static int
exif_orientation(const unsigned char *in, size_t len)
{
    size_t i = 2;
    while (i + 4 <= len && in[i] == 0xff) {
        unsigned m = in[i + 1];
        if (m == 0xda || m == 0xd9)
            break; /* image data: no more markers before it */
        size_t sl = ((size_t)in[i + 2] << 8) | in[i + 3];
        if (sl < 2 || i + 2 + sl > len)
            break;
        const unsigned char *p = in + i + 4;
        size_t n = sl - 2;
        if (m == 0xe1 && n >= 14 && !memcmp(p, "Exif\0\0", 6)) {
            const unsigned char *t = p + 6;
            size_t tn = n - 6;
            int be = t[0] == 'M' && t[1] == 'M';
            if (!be && !(t[0] == 'I' && t[1] == 'I'))
                return 1;
#define U16(q)                                                                 \
    (be ? (unsigned)((q)[0] << 8 | (q)[1]) : (unsigned)((q)[1] << 8 | (q)[0]))
#define U32(q)                                                                 \
    (be ? ((uint32_t)(q)[0] << 24 | (uint32_t)(q)[1] << 16 |                   \
           (uint32_t)(q)[2] << 8 | (q)[3])                                     \
        : ((uint32_t)(q)[3] << 24 | (uint32_t)(q)[2] << 16 |                   \
           (uint32_t)(q)[1] << 8 | (q)[0]))
            uint32_t ifd = U32(t + 4);
            if (ifd < 8 || (size_t)ifd + 2 > tn)
                return 1;
            unsigned count = U16(t + ifd);
            for (unsigned k = 0; k < count; k++) {
                size_t e = (size_t)ifd + 2 + (size_t)k * 12;
                if (e + 12 > tn)
                    break;
                if (U16(t + e) == 0x0112 && U16(t + e + 2) == 3) {
                    unsigned v = U16(t + e + 8);
                    return v >= 1 && v <= 8 ? (int)v : 1;
                }
            }
#undef U16
#undef U32
            return 1;
        }
        i += 2 + sl;
    }
    return 1;
}

/* The lossless transform that shows an image of orientation o upright. */
static int
orientation_op(int o)
{
    switch (o) {
    case 2:
        return TJXOP_HFLIP;
    case 3:
        return TJXOP_ROT180;
    case 4:
        return TJXOP_VFLIP;
    case 5:
        return TJXOP_TRANSPOSE;
    case 6:
        return TJXOP_ROT90;
    case 7:
        return TJXOP_TRANSVERSE;
    case 8:
        return TJXOP_ROT270;
    default:
        return TJXOP_NONE;
    }
}

/* new (ntm_free): the w x h RGB pixels of src shown upright for
 * orientation o; *ow, *oh its size (w and h swapped for 5-8). */
static unsigned char *
orient_rgb(const unsigned char *src, int w, int h, int o, int *ow, int *oh)
{
    int swap = o >= 5;
    *ow = swap ? h : w;
    *oh = swap ? w : h;
    unsigned char *dst = ntm_malloc((size_t)w * (size_t)h * 3);
    if (!dst)
        return NULL;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int dx, dy;
            switch (o) {
            case 2:
                dx = w - 1 - x, dy = y;
                break;
            case 3:
                dx = w - 1 - x, dy = h - 1 - y;
                break;
            case 4:
                dx = x, dy = h - 1 - y;
                break;
            case 5:
                dx = y, dy = x;
                break;
            case 6:
                dx = h - 1 - y, dy = x;
                break;
            case 7:
                dx = h - 1 - y, dy = w - 1 - x;
                break;
            case 8:
                dx = y, dy = w - 1 - x;
                break;
            default:
                dx = x, dy = y;
                break;
            }
            memcpy(dst + ((size_t)dy * (size_t)*ow + (size_t)dx) * 3,
                   src + ((size_t)y * (size_t)w + (size_t)x) * 3, 3);
        }
    return dst;
}

enum ntm_err
ntm_photo_prepare(const unsigned char *in, size_t len, int max_side,
                  int quality, unsigned char **out, size_t *outlen,
                  struct ntm_photo_info *info, struct ntm_error *err)
{
    *out = NULL;
    *outlen = 0;
    memset(info, 0, sizeof(*info));
    if (max_side < 64)
        max_side = 64;
    if (quality < 30 || quality > 95)
        quality = 80;
    enum ntm_err rc = NTM_OK;
    unsigned char *rgb = NULL, *jpg = NULL;
    unsigned long jlen = 0;
    tjhandle d = tjInitDecompress(), c = NULL, t = NULL;
    int w, h, subsamp, cs;
    if (!d)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    if (tjDecompressHeader3(d, in, (unsigned long)len, &w, &h, &subsamp, &cs) !=
        0) {
        rc = tj_fail(d, err);
        goto out;
    }
    /* A header libjpeg-turbo takes with a warning can still name no
     * image; and a forged one can name more pixels than memory holds. */
    if (w <= 0 || h <= 0 || (int64_t)w * h > 200000000) {
        rc = ntm_error_set(err, NTM_EINVAL,
                           N_("the photo cannot be read as a JPEG (%s): "
                              "attach it with --keep-metadata to keep it "
                              "exactly as it is"),
                           w <= 0 || h <= 0 ? "no image in it"
                                            : "more than 200 megapixels");
        goto out;
    }
    info->width = w;
    info->height = h;
    int orient = exif_orientation(in, len);
    int side = w > h ? w : h;
    if (side <= max_side) {
        /* Small enough: the same image, markers dropped, no loss. */
        tjtransform xf;
        memset(&xf, 0, sizeof(xf));
        xf.op = orientation_op(orient);
        xf.options = TJXOPT_COPYNONE | (xf.op != TJXOP_NONE ? TJXOPT_TRIM : 0);
        if (!(t = tjInitTransform())) {
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            goto out;
        }
        if (tjTransform(t, in, (unsigned long)len, 1, &jpg, &jlen, &xf, 0) !=
            0) {
            rc = tj_fail(t, err);
            goto out;
        }
        int ow, oh, oss, ocs;
        if (tjDecompressHeader3(d, jpg, jlen, &ow, &oh, &oss, &ocs) != 0) {
            rc = tj_fail(d, err);
            goto out;
        }
        info->out_width = ow;
        info->out_height = oh;
    } else {
        /* The largest n/8 scale that fits max_side. */
        int nf = 0;
        tjscalingfactor *sf = tjGetScalingFactors(&nf), best = {1, 8};
        for (int i = 0; sf && i < nf; i++) {
            int s = TJSCALED(side, sf[i]);
            if (s <= max_side &&
                (long)sf[i].num * best.denom > (long)best.num * sf[i].denom)
                best = sf[i];
        }
        int sw = TJSCALED(w, best), sh = TJSCALED(h, best);
        size_t pitch = (size_t)sw * 3;
        if (!(rgb = ntm_malloc(pitch * (size_t)sh)) ||
            !(c = tjInitCompress())) {
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            goto out;
        }
        if (tjDecompress2(d, in, (unsigned long)len, rgb, sw, (int)pitch, sh,
                          TJPF_RGB, 0) != 0 &&
            tjGetErrorCode(d) == TJERR_FATAL) {
            rc = tj_fail(d, err);
            goto out;
        }
        if (orient != 1) {
            unsigned char *turned = orient_rgb(rgb, sw, sh, orient, &sw, &sh);
            if (!turned) {
                rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
                goto out;
            }
            ntm_free(rgb);
            rgb = turned;
            pitch = (size_t)sw * 3;
        }
        if (tjCompress2(c, rgb, sw, (int)pitch, sh, TJPF_RGB, &jpg, &jlen,
                        TJSAMP_420, quality, 0) != 0) {
            rc = tj_fail(c, err);
            goto out;
        }
        info->out_width = sw;
        info->out_height = sh;
        info->reencoded = 1;
    }
    if (!(*out = ntm_malloc(jlen ? jlen : 1))) {
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(*out, jpg, jlen);
    *outlen = jlen;
out:
    if (jpg)
        tjFree(jpg);
    ntm_free(rgb);
    if (d)
        tjDestroy(d);
    if (c)
        tjDestroy(c);
    if (t)
        tjDestroy(t);
    return rc;
}
