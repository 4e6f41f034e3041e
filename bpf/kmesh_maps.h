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

#endif
