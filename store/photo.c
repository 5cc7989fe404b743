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
 * Known limit (as of 2026-12): the EXIF orientation is dropped with the
 * rest, so a photo the camera stored sideways and marked "rotate" shows
 * sideways; turning it by the tag (tjTransform can, losslessly) is the
 * next step.
 *
 * Depends on util/ and libturbojpeg only (Debian's libjpeg-turbo: kept
 * up to date with security fixes, and the fastest JPEG codec on the
 * phones and old laptops the officers have). No SQLite.
 */
#include "ntm_store.h"

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
    int side = w > h ? w : h;
    if (side <= max_side) {
        /* Small enough: the same image, markers dropped, no loss. */
        tjtransform xf;
        memset(&xf, 0, sizeof(xf));
        xf.op = TJXOP_NONE;
        xf.options = TJXOPT_COPYNONE;
        if (!(t = tjInitTransform())) {
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            goto out;
        }
        if (tjTransform(t, in, (unsigned long)len, 1, &jpg, &jlen, &xf, 0) !=
            0) {
            rc = tj_fail(t, err);
            goto out;
        }
        info->out_width = w;
        info->out_height = h;
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
