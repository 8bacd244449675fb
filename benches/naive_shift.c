/*
 * The "naive linear copy-and-rewrite floor" of the shift benchmark (issue 3): in a copy
 * of a little-endian standalone BTF blob (the caller makes it), add k to every non-zero
 * type id and l to every non-zero string offset, walking the records once with a switch
 * on the kind. No checks: it is only run on input btfx has parsed. A floor, not a
 * tool; built by benches/bench.py with the system C compiler, not part of btfx.
 *
 * Record layout (include/uapi/linux/btf.h): struct btf_type {name_off, info, size|type}
 * then per kind: INT u32; ARRAY {type, index_type, nelems}; STRUCT/UNION vlen x
 * {name_off, type, offset}; ENUM vlen x {name_off, val}; FUNC_PROTO vlen x {name_off,
 * type}; VAR u32; DATASEC vlen x {type, offset, size}; DECL_TAG u32; ENUM64 vlen x
 * {name_off, lo32, hi32}.
 */
#include <stdint.h>
#include <string.h>

static inline void bump(uint8_t *p, uint32_t by)
{
	uint32_t v;

	memcpy(&v, p, 4);
	if (v)
		v += by;
	memcpy(p, &v, 4);
}

/* Rewrites buf in place; returns the number of records. */
uint32_t naive_shift(uint8_t *buf, uint32_t len, uint32_t k, uint32_t l)
{
	uint32_t hdr_len, type_off, type_len, info, n = 0;
	uint8_t *p, *end, *out = buf;

	if (len < 24)
		return 0;
	memcpy(&hdr_len, buf + 4, 4);
	memcpy(&type_off, buf + 8, 4);
	memcpy(&type_len, buf + 12, 4);
	p = out + hdr_len + type_off;
	end = p + type_len;
	while (p + 12 <= end) {
		uint32_t kind, vlen, i;

		memcpy(&info, p + 4, 4);
		kind = (info >> 24) & 0x1f;
		vlen = info & 0xffff;
		bump(p, l);
		switch (kind) {
		case 1: /* INT */
			p += 16;
			break;
		case 3: /* ARRAY */
			bump(p + 12, k);
			bump(p + 16, k);
			p += 24;
			break;
		case 4: /* STRUCT */
		case 5: /* UNION */
			p += 12;
			for (i = 0; i < vlen; i++, p += 12) {
				bump(p, l);
				bump(p + 4, k);
			}
			break;
		case 6: /* ENUM */
			p += 12;
			for (i = 0; i < vlen; i++, p += 8)
				bump(p, l);
			break;
		case 13: /* FUNC_PROTO */
			bump(p + 8, k);
			p += 12;
			for (i = 0; i < vlen; i++, p += 8) {
				bump(p, l);
				bump(p + 4, k);
			}
			break;
		case 14: /* VAR */
			bump(p + 8, k);
			p += 16;
			break;
		case 15: /* DATASEC */
			p += 12;
			for (i = 0; i < vlen; i++, p += 12)
				bump(p, k);
			break;
		case 16: /* FLOAT */
			p += 12;
			break;
		case 17: /* DECL_TAG */
			bump(p + 8, k);
			p += 16;
			break;
		case 19: /* ENUM64 */
			p += 12;
			for (i = 0; i < vlen; i++, p += 12)
				bump(p, l);
			break;
		default: /* PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, TYPE_TAG */
			bump(p + 8, k);
			p += 12;
			break;
		}
		n++;
	}
	return n;
}
