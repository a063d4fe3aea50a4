/* hex: the value of one hexadecimal digit (URL escapes, UUIDs, JSON and template escapes).
 * Header-only: it sits in hot loops of the parsers. */
#ifndef TOCSIN_HEX_H
#define TOCSIN_HEX_H

/* 0..15 for '0'-'9', 'a'-'f' and 'A'-'F'; -1 for anything else (a char, negative or not, or an
 * unsigned char). */
static inline int hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
