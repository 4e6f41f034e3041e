/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Map definitions shared by the XDP and connect programs, sized by kmesh_tables.h. The names are the
 * KMESH_MAP_* strings (the C identifiers are the names libbpf and the loader see). */
#ifndef KMESH_MAPS_H
#define KMESH_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "kmesh_tables.h"

#define KM_MAP(_name, _type, _key, _value, _max)                                                   \
	struct {                                                                                   \
		__uint(type, _type);                                                               \
		__uint(max_entries, _max);                                                         \
		__type(key, _key);                                                                 \
		__type(value, _value);                                                             \
	} _name SEC(".maps")

#define KM_MAP_FLAGS(_name, _type, _key, _value, _max, _flags)                                     \
	struct {                                                                                   \
		__uint(type, _type);                                                               \
		__uint(max_entries, _max);                                                         \
		__uint(map_flags, _flags);                                                         \
		__type(key, _key);                                                                 \
		__type(value, _value);                                                             \
	} _name SEC(".maps")

/* An image table: one copy per generation slot (kmesh_tables.h, "Generations"). */
#define KM_GEN_MAP(_name, _type, _key, _value, _max)                                               \
	KM_MAP(_name##_0, _type, _key, _value, _max);                                              \
	KM_MAP(_name##_1, _type, _key, _value, _max)

#define KM_GEN_MAP_FLAGS(_name, _type, _key, _value, _max, _flags)                                 \
	KM_MAP_FLAGS(_name##_0, _type, _key, _value, _max, _flags);                                \
	KM_MAP_FLAGS(_name##_1, _type, _key, _value, _max, _flags)

/* A lookup in the copy of generation slot _gen (0 or 1) of an image table. Each copy has a call
 * site of its own: the differing empty asm statements keep clang from merging the two calls into
 * one call on a map pointer chosen at run time, which the verifier cannot inline (an array lookup
 * would become a helper call, several times slower). */
#define KM_LOOKUP(_name, _gen, _key)                                                               \
	({                                                                                         \
		void *__km_r;                                                                      \
		if (_gen) {                                                                        \
			__km_r = bpf_map_lookup_elem(&_name##_1, (_key));                          \
			asm volatile("/* gen 1 */" : "+r"(__km_r));                                \
		} else {                                                                           \
			__km_r = bpf_map_lookup_elem(&_name##_0, (_key));                          \
			asm volatile("/* gen 0 */" : "+r"(__km_r));                                \
		}                                                                                  \
		__km_r;                                                                            \
	})

/* The slot in force: read once per packet (connect) or once per SYN by the entry, which hands it to
 * the stages in the scratch, so one packet never reads two generations. */
KM_MAP(km_active, BPF_MAP_TYPE_ARRAY, __u32, __u32, 1);

static __always_inline __u32 active_generation(void)
{
	__u32 zero = 0;
	__u32 *g = bpf_map_lookup_elem(&km_active, &zero);
	return g ? *g & 1 : 0;
}

#endif
