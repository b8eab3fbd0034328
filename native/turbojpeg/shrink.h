#ifndef FACEREST_SHRINK_H
#define FACEREST_SHRINK_H
#include <stdint.h>

/* src (sw x sh RGB, covering extent_w x extent_h source pixels' worth: see axis_taps) shrunk to
 * dst (dw x dh RGB, dw <= sw, dh <= sh) with a triangle filter (shrink.c). 0, or -1 when out of
 * memory. */
int shrink_rgb(const uint8_t *src, int32_t sw, int32_t sh, double extent_w, double extent_h, uint8_t *dst, int32_t dw, int32_t dh);

#endif
