/*
 * The "one visit" floor of the validation benchmark (issue 2): walk the records of a
 * little-endian standalone BTF blob once, in id order, with a switch on the kind, and
 * for every type-id field read one byte kept for the referenced type (only for lower
 * ids, which a walk in id order has finished), then keep one byte for this type. That
 * is the least an ordered check of references can do: strict validation does this much
 * at least once beside the index, the per-record rules and the name checks. No checks:
 * it is only run on input btfx has parsed. A floor, not a tool; built by
 * benches/bench.py with the system C compiler, not part of btfx.
 *
 * Record layout (include/uapi/linux/btf.h): struct btf_type {name_off, info, size|type}
 * then per kind: INT u32; ARRAY {type, index_type, nelems}; STRUCT/UNION vlen x
 * {name_off, type, offset}; ENUM vlen x {name_off, val}; FUNC_PROTO vlen x {name_off,
 * type}; VAR u32; DATASEC vlen x {type, offset, size}; DECL_TAG u32; ENUM64 vlen x
 * {name_off, lo32, hi32}.
 */
#include <stdint.h>
#include <string.h>

static inline uint32_t word(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* The byte kept for type `t` as seen from type `id` (0 unless `t` is lower). */
static inline uint8_t look(const uint8_t *seen, uint32_t t, uint32_t id)
{
	return t < id ? seen[t] : 0;
}

/*
 * Visits buf (len bytes); seen has room for one byte per type id (the record count +
 * 1). Returns the number of records.
 */
uint32_t naive_visit(const uint8_t *buf, uint32_t len, uint8_t *seen, uint32_t seen_len)
{
	uint32_t hdr_len, type_off, type_len, id = 1;
	const uint8_t *p, *end;

	if (len < 24)
		return 0;
	hdr_len = word(buf + 4);
	type_off = word(buf + 8);
	type_len = word(buf + 12);
	p = buf + hdr_len + type_off;
	end = p + type_len;
	seen[0] = 0x80;
	while (p + 12 <= end && id < seen_len) {
		uint32_t info = word(p + 4), kind = (info >> 24) & 0x1f, vlen = info & 0xffff, i;
		uint8_t acc = 0;

		switch (kind) {
		case 1: /* INT */
			p += 16;
			break;
		case 3: /* ARRAY */
			acc = look(seen, word(p + 12), id) | look(seen, word(p + 16), id);
			p += 24;
			break;
		case 4: /* STRUCT */
		case 5: /* UNION */
			p += 12;
			for (i = 0; i < vlen; i++, p += 12)
				acc |= look(seen, word(p + 4), id);
			break;
		case 6: /* ENUM */
			p += 12 + 8 * vlen;
			break;
		case 13: /* FUNC_PROTO */
			acc = look(seen, word(p + 8), id);
			p += 12;
			for (i = 0; i < vlen; i++, p += 8)
				acc |= look(seen, word(p + 4), id);
			break;
		case 14: /* VAR */
		case 17: /* DECL_TAG */
			acc = look(seen, word(p + 8), id);
			p += 16;
			break;
		case 15: /* DATASEC */
			p += 12;
			for (i = 0; i < vlen; i++, p += 12)
				acc |= look(seen, word(p), id);
			break;
		case 16: /* FLOAT */
			p += 12;
			break;
		case 19: /* ENUM64 */
			p += 12 + 12 * vlen;
			break;
		default: /* PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, TYPE_TAG */
			acc = look(seen, word(p + 8), id);
			p += 12;
			break;
		}
		seen[id++] = (uint8_t)kind | (acc & 0x80);
	}
	return id - 1;
}
