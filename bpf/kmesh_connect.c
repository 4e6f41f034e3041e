// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Locality-aware service choice at connect time (semantics.md §4, docs/kernel.md).
 *
 * A connect to a service address:port found in km_services is rewritten to one endpoint slot of
 * the service's priority table: UNSPECIFIED and STRICT use priority 0 (UNSPECIFIED puts every
 * endpoint there), FAILOVER the first non-empty priority, PASSTHROUGH is never rewritten. The
 * slot is chosen uniformly at random (weights are expanded into repeated slots by the compiler) and
 * the port becomes the endpoint's target port. With no endpoint the connect keeps its original
 * destination, as Kmesh does, and KMESH_LB_OUT_NO_ENDPOINT counts it. A connect reads the generation
 * slot once (km_active) and every table of that slot. The programs always return 1:
 * load balancing never refuses a connect.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "kmesh_maps.h"

KM_GEN_MAP_FLAGS(km_services, BPF_MAP_TYPE_HASH, struct kmesh_svc_key, struct kmesh_service, KMESH_MAX_SERVICES, BPF_F_NO_PREALLOC);
KM_GEN_MAP_FLAGS(km_endpoints, BPF_MAP_TYPE_HASH, struct kmesh_endpoint_key, __u32, KMESH_MAX_ENDPOINTS, BPF_F_NO_PREALLOC);
KM_GEN_MAP_FLAGS(km_backends, BPF_MAP_TYPE_HASH, __u32, struct kmesh_backend, KMESH_MAX_BACKENDS, BPF_F_NO_PREALLOC);
KM_MAP(km_lb_stats, BPF_MAP_TYPE_PERCPU_ARRAY, __u32, __u64, KMESH_MAX_LB_OUTCOMES);

static __always_inline void count(__u32 outcome)
{
	__u64 *c = bpf_map_lookup_elem(&km_lb_stats, &outcome);
	if (c)
		*c += 1;
}

/* The backend for a service key, or 0 when the connect is left alone (already counted). */
static __always_inline struct kmesh_backend *choose(struct kmesh_svc_key *key)
{
	__u32 gen = active_generation();
	struct kmesh_service *svc = KM_LOOKUP(km_services, gen, key);
	if (!svc)
		return 0; /* not a service address: not ours, not counted */
	if (svc->mode == KMESH_LB_PASSTHROUGH) {
		count(KMESH_LB_OUT_PASSTHROUGH);
		return 0;
	}
	__u32 prio = KMESH_PRIORITIES;
	if (svc->mode == KMESH_LB_FAILOVER) {
#pragma unroll
		for (__u32 p = 0; p < KMESH_PRIORITIES; p++) {
			if (svc->counts[p]) {
				prio = p;
				break;
			}
		}
	} else if (svc->counts[0]) {
		prio = 0;
	}
	if (prio >= KMESH_PRIORITIES) {
		count(KMESH_LB_OUT_NO_ENDPOINT);
		return 0;
	}
	struct kmesh_endpoint_key ek = {
		.service_id = svc->service_id,
		.priority = prio,
		.index = bpf_get_prandom_u32() % svc->counts[prio],
	};
	__u32 *backend_id = KM_LOOKUP(km_endpoints, gen, &ek);
	if (!backend_id) {
		count(KMESH_LB_OUT_ERROR);
		return 0;
	}
	struct kmesh_backend *b = KM_LOOKUP(km_backends, gen, backend_id);
	if (!b || b->v6 != key->v6) {
		count(KMESH_LB_OUT_ERROR);
		return 0;
	}
	count(KMESH_LB_OUT_REWRITTEN);
	return b;
}

SEC("cgroup/connect4")
int kmesh_connect4(struct bpf_sock_addr *ctx)
{
	struct kmesh_svc_key key = {};
	__u32 ip = ctx->user_ip4;
	__builtin_memcpy(key.addr, &ip, 4);
	key.port = bpf_ntohs((__u16)ctx->user_port);
	struct kmesh_backend *b = choose(&key);
	if (b) {
		__u32 addr;
		__builtin_memcpy(&addr, b->addr, 4);
		ctx->user_ip4 = addr;
		ctx->user_port = bpf_htons((__u16)b->port);
	}
	return 1;
}

SEC("cgroup/connect6")
int kmesh_connect6(struct bpf_sock_addr *ctx)
{
	__u32 w[4] = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3] };
	/* A dual-stack socket reaches an IPv4 service as ::ffff:a.b.c.d: it is judged as that IPv4
	 * address and sent to the IPv4 backend, again in mapped form. */
	int mapped = w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff);
	struct kmesh_svc_key key = { .v6 = !mapped };
	if (mapped)
		__builtin_memcpy(key.addr, &w[3], 4);
	else
		__builtin_memcpy(key.addr, w, 16);
	key.port = bpf_ntohs((__u16)ctx->user_port);
	struct kmesh_backend *b = choose(&key);
	if (b) {
		__u32 a[4];
		__builtin_memcpy(a, b->addr, 16);
		if (mapped) {
			ctx->user_ip6[0] = 0;
			ctx->user_ip6[1] = 0;
			ctx->user_ip6[2] = bpf_htonl(0xffff);
			ctx->user_ip6[3] = a[0];
		} else {
			ctx->user_ip6[0] = a[0];
			ctx->user_ip6[1] = a[1];
			ctx->user_ip6[2] = a[2];
			ctx->user_ip6[3] = a[3];
		}
		ctx->user_port = bpf_htons((__u16)b->port);
	}
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
