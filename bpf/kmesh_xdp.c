// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Authorization at XDP (dataplane.md, docs/dataplane-layout.md, docs/kernel.md).
 *
 * kmesh_xdp parses the packet; a TCP SYN (SYN set, ACK clear) to a local workload address is
 * evaluated bottom-up in four stages chained by tail calls through km_progs:
 *   entry -> MATCH -> CLAUSE -> RULE -> POLICY
 * so a packet takes exactly KMESH_TAIL_CALLS tail calls whatever the number of policies. Each stage
 * is one bpf_loop over the eval's list for that level, bounded by KMESH_MAX_STAGE_STEPS (the
 * compiler refuses evals that need more). Every path that cannot finish the evaluation of a SYN to a
 * local workload drops it (fail closed) and counts KMESH_VERDICT_ERROR or KMESH_VERDICT_UNPARSED.
 *
 * Before the stages, a SYN is looked up in km_decisions (the compile-time decision table, see
 * kmesh_tables.h): the source's identity (km_identities) gives its decision class, and destination,
 * port and class (or, without identity, source prefix) give verdict and counters in one or two hash
 * probes and no tail call. A miss, or an entry marked KMESH_DECISION_STAGES, takes the stages, which
 * test identities by number in km_id_sets and walk each eval's lists, then its shared block's.
 *
 * Every table exists once per generation slot; the entry reads the slot in force (km_active) once
 * and hands it to the stages in the scratch, so a packet is evaluated against one image only
 * (loader/README.md). Policy counters are found through the generation's km_stat_ids.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "kmesh_maps.h"

KM_GEN_MAP(km_workloads, BPF_MAP_TYPE_HASH, struct kmesh_ip_key, struct kmesh_workload, KMESH_MAX_WORKLOAD_ADDRS);
KM_GEN_MAP(km_port_index, BPF_MAP_TYPE_HASH, struct kmesh_port_key, __u32, KMESH_MAX_PORT_INDEX);
KM_GEN_MAP(km_evals, BPF_MAP_TYPE_ARRAY, __u32, struct kmesh_eval, KMESH_MAX_EVALS);
KM_GEN_MAP(km_lists, BPF_MAP_TYPE_ARRAY, __u32, __u32, KMESH_MAX_LISTS);
KM_GEN_MAP(km_policies, BPF_MAP_TYPE_ARRAY, __u32, struct kmesh_policy, KMESH_MAX_POLICIES);
KM_GEN_MAP(km_rules, BPF_MAP_TYPE_ARRAY, __u32, struct kmesh_range, KMESH_MAX_RULES);
KM_GEN_MAP(km_clauses, BPF_MAP_TYPE_ARRAY, __u32, struct kmesh_range, KMESH_MAX_CLAUSES);
KM_GEN_MAP(km_matches, BPF_MAP_TYPE_ARRAY, __u32, struct kmesh_match, KMESH_MAX_MATCHES);
KM_GEN_MAP_FLAGS(km_addr_sets, BPF_MAP_TYPE_LPM_TRIE, struct kmesh_addr_set_key, __u32, KMESH_MAX_ADDR_SET_ENTRIES, BPF_F_NO_PREALLOC);
KM_GEN_MAP_FLAGS(km_port_sets, BPF_MAP_TYPE_HASH, struct kmesh_port_key, __u32, KMESH_MAX_PORT_SET_ENTRIES, BPF_F_NO_PREALLOC);
KM_GEN_MAP_FLAGS(km_identities, BPF_MAP_TYPE_HASH, struct kmesh_ip_key, struct kmesh_identity, KMESH_MAX_IDENTITY_ADDRS, BPF_F_NO_PREALLOC);
KM_GEN_MAP_FLAGS(km_id_sets, BPF_MAP_TYPE_HASH, struct kmesh_id_set_key, __u32, KMESH_MAX_ID_SET_ENTRIES, BPF_F_NO_PREALLOC);
KM_GEN_MAP_FLAGS(km_decisions, BPF_MAP_TYPE_HASH, struct kmesh_decision_key, struct kmesh_decision, KMESH_MAX_DECISIONS, BPF_F_NO_PREALLOC);
KM_GEN_MAP(km_decision_idx, BPF_MAP_TYPE_ARRAY, __u32, struct kmesh_decision_index, KMESH_MAX_DECISION_INDEX);
KM_GEN_MAP(km_stat_ids, BPF_MAP_TYPE_ARRAY, __u32, __u32, KMESH_MAX_POLICIES);
/* The loader's own records (kmesh_tables.h, "Generations"): the programs never read them; they are
 * declared here so that one object creates every map of a node and its BTF describes them all. */
KM_GEN_MAP_FLAGS(km_names, BPF_MAP_TYPE_HASH, __u32, struct kmesh_names_chunk, KMESH_MAX_NAMES_CHUNKS, BPF_F_NO_PREALLOC);
KM_MAP(km_meta, BPF_MAP_TYPE_ARRAY, __u32, struct kmesh_meta, KMESH_MAX_META);
KM_MAP_FLAGS(km_stat_names, BPF_MAP_TYPE_HASH, __u32, struct kmesh_stat_name, KMESH_MAX_STAT_NAMES, BPF_F_NO_PREALLOC);
KM_MAP(km_state, BPF_MAP_TYPE_ARRAY, __u32, struct kmesh_loader_state, 1);
KM_MAP(km_scratch, BPF_MAP_TYPE_PERCPU_ARRAY, __u32, struct kmesh_scratch, 1);
KM_MAP(km_policy_stat, BPF_MAP_TYPE_PERCPU_ARRAY, __u32, struct kmesh_policy_stats, KMESH_MAX_POLICIES);
KM_MAP(km_verdict_st, BPF_MAP_TYPE_PERCPU_ARRAY, __u32, __u64, KMESH_MAX_VERDICTS);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, KMESH_MAX_PROGS);
	__type(key, __u32);
	__type(value, __u32);
} km_progs SEC(".maps");

/* How far the entry follows an IPv6 extension-header chain (docs/kernel.md). */
#define KM_MAX_IPV6_EXT 8

static __always_inline void count_verdict(__u32 verdict)
{
	__u64 *c = bpf_map_lookup_elem(&km_verdict_st, &verdict);
	if (c)
		*c += 1; /* per CPU: no atomics needed */
}

/* The counters of a policy id of generation `gen`: its counter slot, from km_stat_ids. */
static __always_inline struct kmesh_policy_stats *policy_stats(__u32 gen, __u32 policy_id)
{
	__u32 *slot = KM_LOOKUP(km_stat_ids, gen, &policy_id);
	if (!slot)
		return 0;
	__u32 k = *slot;
	return bpf_map_lookup_elem(&km_policy_stat, &k);
}

static __always_inline int fail(struct kmesh_scratch *s, __u32 verdict)
{
	if (s)
		s->verdict = verdict;
	count_verdict(verdict);
	return XDP_DROP;
}

/* The verdict when no policy can match: nothing enforced to allow, or allow policies none of which
 * is listed for this port. */
static __always_inline int decide_without_policies(struct kmesh_scratch *s, struct kmesh_eval *e)
{
	if (e->flags & KMESH_EVAL_HAS_ALLOW) {
		s->verdict = KMESH_VERDICT_DENY_NONE_ALLOW;
		count_verdict(KMESH_VERDICT_DENY_NONE_ALLOW);
		return XDP_DROP;
	}
	s->verdict = KMESH_VERDICT_ALLOW_NO_ALLOW;
	count_verdict(KMESH_VERDICT_ALLOW_NO_ALLOW);
	return XDP_PASS;
}

/* The lists of an eval: its own, then its shared block's (kmesh_tables.h, "Shared blocks"). */
struct eval_lists {
	__u32 first[4][2];
	__u32 count[4][2];
};

/* The four ranges of an eval row into column k (0: the eval's own, 1: its shared block's). */
static __always_inline void put_lists(struct eval_lists *l, struct kmesh_eval *e, int k)
{
	l->first[KMESH_STAGE_MATCH][k] = e ? e->match_first : 0;
	l->count[KMESH_STAGE_MATCH][k] = e ? e->match_count : 0;
	l->first[KMESH_STAGE_CLAUSE][k] = e ? e->clause_first : 0;
	l->count[KMESH_STAGE_CLAUSE][k] = e ? e->clause_count : 0;
	l->first[KMESH_STAGE_RULE][k] = e ? e->rule_first : 0;
	l->count[KMESH_STAGE_RULE][k] = e ? e->rule_count : 0;
	l->first[KMESH_STAGE_POLICY][k] = e ? e->policy_first : 0;
	l->count[KMESH_STAGE_POLICY][k] = e ? e->policy_count : 0;
}

/* Reads the eval's ranges and its block's; -1 when the block row is missing. */
static __always_inline int eval_lists(__u32 gen, struct kmesh_eval *e, struct eval_lists *l)
{
	put_lists(l, e, 0);
	__u32 shared = e->shared;
	if (!shared) {
		put_lists(l, 0, 1);
		return 0;
	}
	__u32 bid = shared - 1;
	struct kmesh_eval *b = KM_LOOKUP(km_evals, gen, &bid);
	if (!b)
		return -1;
	put_lists(l, b, 1);
	return 0;
}

static __always_inline __u32 stage_rows(struct eval_lists *l, int stage)
{
	return l->count[stage][0] + l->count[stage][1];
}

/* Hands over to the first stage from `next` on that has rows to evaluate. A stage whose lists are
 * empty writes no bits and the next stage reads none (an eval lists every row its rows refer to),
 * so skipping it changes nothing but the time; an empty policy list is decided here. The tail calls
 * taken stay at most KMESH_TAIL_CALLS. */
static __always_inline int advance(struct xdp_md *ctx, struct kmesh_scratch *s, struct kmesh_eval *e, struct eval_lists *l, __u32 next)
{
	if (stage_rows(l, KMESH_STAGE_POLICY) == 0)
		return decide_without_policies(s, e);
	if (next <= KMESH_STAGE_MATCH && stage_rows(l, KMESH_STAGE_MATCH))
		bpf_tail_call(ctx, &km_progs, KMESH_STAGE_MATCH);
	else if (next <= KMESH_STAGE_CLAUSE && stage_rows(l, KMESH_STAGE_CLAUSE))
		bpf_tail_call(ctx, &km_progs, KMESH_STAGE_CLAUSE);
	else if (next <= KMESH_STAGE_RULE && stage_rows(l, KMESH_STAGE_RULE))
		bpf_tail_call(ctx, &km_progs, KMESH_STAGE_RULE);
	else
		bpf_tail_call(ctx, &km_progs, KMESH_STAGE_POLICY);
	return fail(s, KMESH_VERDICT_ERROR); /* the stage program is missing */
}

/* The list slot of position i of a stage's two lists (own, then the block's). */
static __always_inline __u32 stage_slot(__u32 first0, __u32 count0, __u32 first1, __u32 i)
{
	return i < count0 ? first0 + i : first1 + (i - count0);
}

/* ------------------------------------------------------------------------------------------------
 * Entry: parse, find the workload, hand over to the first stage with work.
 * ---------------------------------------------------------------------------------------------- */

/* 1: a SYN was found; 0: not a TCP SYN (pass); -1: cannot tell (drop when local). */
struct parsed {
	struct kmesh_ip_key dst;
	__u8 src[16];
	__u32 port;
	int state;
};

static __always_inline int parse_tcp(void *l4, void *end, struct parsed *p)
{
	struct tcphdr *tcp = l4;
	if ((void *)(tcp + 1) > end)
		return -1;
	if (!tcp->syn || tcp->ack)
		return 0;
	p->port = bpf_ntohs(tcp->dest);
	return 1;
}

static __always_inline int parse_ipv4(struct iphdr *ip, void *end, struct parsed *p)
{
	if ((void *)(ip + 1) > end)
		return -1;
	__builtin_memcpy(p->dst.addr, &ip->daddr, 4);
	__builtin_memcpy(p->src, &ip->saddr, 4);
	p->dst.v6 = 0;
	if (ip->version != 4 || ip->ihl < 5)
		return -1;
	if (ip->protocol != IPPROTO_TCP)
		return 0;
	/* A later fragment carries no TCP header: the first fragment was already judged. */
	if (ip->frag_off & bpf_htons(0x1fff))
		return 0;
	return parse_tcp((void *)ip + ip->ihl * 4, end, p);
}

static __always_inline int parse_ipv6(struct ipv6hdr *ip6, void *end, struct parsed *p)
{
	if ((void *)(ip6 + 1) > end)
		return -1;
	__builtin_memcpy(p->dst.addr, &ip6->daddr, 16);
	__builtin_memcpy(p->src, &ip6->saddr, 16);
	p->dst.v6 = 1;
	__u8 next = ip6->nexthdr;
	void *cur = ip6 + 1;
#pragma unroll
	for (int i = 0; i <= KM_MAX_IPV6_EXT; i++) { /* the headers, then the upper layer */
		switch (next) {
		case IPPROTO_TCP:
			return parse_tcp(cur, end, p);
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS: {
			__u8 *h = cur;
			if ((void *)(h + 2) > end)
				return -1;
			next = h[0];
			cur += (h[1] + 1) * 8;
			break;
		}
		case IPPROTO_FRAGMENT: {
			__u8 *h = cur;
			if ((void *)(h + 8) > end)
				return -1;
			if (((h[2] << 8) | h[3]) & 0xfff8)
				return 0; /* a later fragment: no TCP header */
			next = h[0];
			cur += 8;
			break;
		}
		case IPPROTO_AH: {
			__u8 *h = cur;
			if ((void *)(h + 2) > end)
				return -1;
			next = h[0];
			cur += (h[1] + 2) * 4;
			break;
		}
		case IPPROTO_ESP:
			return -1; /* encrypted: cannot tell whether it is a SYN */
		default:
			return 0; /* another upper layer (UDP, ICMPv6, no next header...) */
		}
	}
	return -1; /* chain longer than KM_MAX_IPV6_EXT */
}

/* One probe pass: the source masked to each stored length of its family, longest first. */
static __always_inline struct kmesh_decision *probe(__u32 gen, struct kmesh_decision_key *k, const __u32 *src, const __u8 *lengths)
{
#pragma unroll
	for (int i = 0; i < KMESH_DECISION_MAX_LENGTHS; i++) {
		__u32 len = lengths[i];
		if (len > 128)
			break; /* KMESH_DECISION_NO_LENGTH: no shorter prefix is stored */
		k->src_len = len;
		__u32 *out = (__u32 *)k->src;
#pragma unroll
		for (int w = 0; w < 4; w++) {
			__u32 bits = len > 32 * w ? len - 32 * w : 0;
			out[w] = bits >= 32 ? src[w] : bits == 0 ? 0 : src[w] & bpf_htonl(~0u << (32 - bits));
		}
		struct kmesh_decision *d = KM_LOOKUP(km_decisions, gen, k);
		if (d)
			return d;
	}
	return 0;
}

/* A source with an identity: class 0 (every class not stored), then its own class when class 0's
 * bloom bit for it is set. */
static __always_inline struct kmesh_decision *probe_class(__u32 gen, struct kmesh_decision_key *k, __u32 cls)
{
	k->src_len = KMESH_DECISION_CLASS;
	k->cls = 0;
	struct kmesh_decision *d0 = KM_LOOKUP(km_decisions, gen, k);
	if (!d0 || !cls || !((d0->class_bloom >> (cls & 63)) & 1))
		return d0;
	k->cls = cls;
	struct kmesh_decision *d = KM_LOOKUP(km_decisions, gen, k);
	return d ? d : d0;
}

/* The source's identity (kmesh_tables.h, km_identities): copied to *out, all zero when it has none. */
static __always_inline void source_identity(struct parsed *p, __u32 gen, struct kmesh_identity *out)
{
	struct kmesh_ip_key k = {};
	__builtin_memcpy(k.addr, p->src, 16);
	k.v6 = p->dst.v6;
	struct kmesh_identity *id = KM_LOOKUP(km_identities, gen, &k);
	if (id)
		*out = *id;
	else
		__builtin_memset(out, 0, sizeof(*out));
}

/* The decision table (kmesh_tables.h, km_decisions): by decision class for a source with an
 * identity, by longest-prefix match (probing) for one without. Counts exactly what the POLICY stage
 * would count for the packet. XDP_PASS without counting for a destination the local-address filter
 * rules out; -1 when the table does not decide the SYN (no table for it, or a region left to the
 * stages). *resolved says whether *ident was looked up. */
static __always_inline int decide_by_table(struct parsed *p, __u32 gen, struct kmesh_identity *ident, int *resolved)
{
	__u32 zero = 0;
	struct kmesh_decision_index *ix = KM_LOOKUP(km_decision_idx, gen, &zero);
	if (!ix)
		return -1;
	if (ix->flags & KMESH_INDEX_LOCAL_FILTER) {
		__u32 h = p->dst.v6 ? (p->dst.addr[14] << 8) | p->dst.addr[15] : (p->dst.addr[2] << 8) | p->dst.addr[3];
		if (!((ix->local[(h >> 6) & (KMESH_DECISION_PORT_WORDS - 1)] >> (h & 63)) & 1))
			return XDP_PASS; /* not a local workload: not ours, not counted */
	}
	source_identity(p, gen, ident);
	*resolved = 1;
	struct kmesh_decision_key k = {};
	__builtin_memcpy(&k.dst, &p->dst, sizeof(k.dst));
	__u32 port = p->port & 0xffff;
	int by_port = (ix->ports[(port >> 6) & (KMESH_DECISION_PORT_WORDS - 1)] >> (port & 63)) & 1;
	k.port = by_port ? port : KMESH_DECISION_OTHER_PORT;
	struct kmesh_decision *d;
	if (ident->id) {
		__u32 cls = ident->cls;
		d = probe_class(gen, &k, cls);
		if (!d && by_port) {
			k.port = KMESH_DECISION_OTHER_PORT;
			d = probe_class(gen, &k, cls);
		}
	} else {
		__u32 src[4];
		__builtin_memcpy(src, p->src, 16);
		const __u8 *lengths = ix->lengths[p->dst.v6 ? 1 : 0];
		d = probe(gen, &k, src, lengths);
		if (!d && by_port) {
			k.port = KMESH_DECISION_OTHER_PORT;
			d = probe(gen, &k, src, lengths);
		}
	}
	if (!d || (d->flags & KMESH_DECISION_STAGES) || d->verdict > KMESH_VERDICT_DENY_NONE_ALLOW)
		return -1;
	if (k.port == KMESH_DECISION_OTHER_PORT && d->stage_ports) {
		struct kmesh_port_key pk = { .id = d->stage_ports, .port = port };
		if (KM_LOOKUP(km_port_sets, gen, &pk))
			return -1; /* a port the eval names without a table here: the stages decide */
	}
	__u32 n = d->count;
	if (n > KMESH_DECISION_MAX_MATCHED)
		return -1;
	for (__u32 i = 0; i < n && i < KMESH_DECISION_MAX_MATCHED; i++) {
		__u32 m = d->matched[i];
		__u32 id = m & ~KMESH_DECISION_DRY_RUN;
		struct kmesh_policy_stats *st = policy_stats(gen, id);
		if (!st)
			continue;
		if (m & KMESH_DECISION_DRY_RUN)
			st->dry_run_matched++;
		else
			st->matched++;
	}
	__u32 verdict = d->verdict;
	__u32 pid = d->policy_id;
	if (verdict == KMESH_VERDICT_DENY_POLICY) {
		struct kmesh_policy_stats *st = policy_stats(gen, pid);
		if (st)
			st->denied++;
	}
	/* The destination, verdict and deciding policy stay in the scratch for kmeshc check --engine
	 * kernel (the destination tells which CPU's slot was written). */
	struct kmesh_scratch *s = bpf_map_lookup_elem(&km_scratch, &zero);
	if (s) {
		__builtin_memcpy(s->dst, p->dst.addr, 16);
		s->verdict = verdict;
		s->policy_id = pid;
		s->gen = gen;
	}
	count_verdict(verdict);
	return verdict == KMESH_VERDICT_ALLOW_POLICY || verdict == KMESH_VERDICT_ALLOW_NO_ALLOW ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int kmesh_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct parsed p = {};

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	__u16 proto = eth->h_proto;
	void *l3 = eth + 1;
	/* Up to two VLAN tags (802.1Q, 802.1ad) are skipped: a tagged SYN is still a SYN. */
#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		__u16 *tag = l3;
		if ((void *)(tag + 2) > end)
			return XDP_PASS; /* too short to carry an IP header at all */
		proto = tag[1];
		l3 = tag + 2;
	}
	if (proto == bpf_htons(ETH_P_IP))
		p.state = parse_ipv4(l3, end, &p);
	else if (proto == bpf_htons(ETH_P_IPV6))
		p.state = parse_ipv6(l3, end, &p);
	else
		return XDP_PASS;
	if (p.state == 0)
		return XDP_PASS;

	__u32 gen = active_generation();
	struct kmesh_identity ident = {};
	int resolved = 0;
	if (p.state > 0) {
		int r = decide_by_table(&p, gen, &ident, &resolved);
		if (r >= 0)
			return r;
	}

	/* Only traffic to local workloads is ours; a header we could not read passes when it is not
	 * (its destination was read first) and is dropped when it is. */
	struct kmesh_workload *w = KM_LOOKUP(km_workloads, gen, &p.dst);
	if (!w)
		return XDP_PASS;
	if (p.state < 0) {
		count_verdict(KMESH_VERDICT_UNPARSED);
		return XDP_DROP;
	}

	__u32 zero = 0;
	struct kmesh_scratch *s = bpf_map_lookup_elem(&km_scratch, &zero);
	if (!s)
		return fail(s, KMESH_VERDICT_ERROR);
	__builtin_memcpy(s->src, p.src, 16);
	__builtin_memcpy(s->dst, p.dst.addr, 16);
	s->v6 = p.dst.v6;
	s->port = p.port;
	s->workload_id = w->workload_id;
	s->verdict = KMESH_VERDICT_ERROR;
	s->policy_id = 0xffffffff;
	s->gen = gen;
	if (!resolved)
		source_identity(&p, gen, &ident);
	s->src_id = ident.id;
	s->src_ns = ident.ns;
	struct kmesh_port_key pk = { .id = w->workload_id, .port = p.port };
	__u32 *eval = KM_LOOKUP(km_port_index, gen, &pk);
	s->eval_id = eval ? *eval : w->eval_id;
	__u32 eid = s->eval_id;
	struct kmesh_eval *e = KM_LOOKUP(km_evals, gen, &eid);
	if (!e)
		return fail(s, KMESH_VERDICT_ERROR);
	struct eval_lists el;
	if (eval_lists(gen, e, &el) < 0)
		return fail(s, KMESH_VERDICT_ERROR);
	return advance(ctx, s, e, &el, KMESH_STAGE_MATCH);
}

/* ------------------------------------------------------------------------------------------------
 * Helpers shared by the stages.
 * ---------------------------------------------------------------------------------------------- */

static __always_inline struct kmesh_scratch *scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&km_scratch, &zero);
}

static __always_inline struct kmesh_eval *current_eval(struct kmesh_scratch *s)
{
	__u32 id = s->eval_id;
	return KM_LOOKUP(km_evals, s->gen, &id);
}

/* The scratch, the eval and its lists every stage program starts from: the eval, or NULL when any
 * is missing (*s is set either way, for fail()). */
static __always_inline struct kmesh_eval *stage_start(struct kmesh_scratch **s, struct eval_lists *l)
{
	*s = scratch();
	struct kmesh_eval *e = *s ? current_eval(*s) : 0;
	if (e && eval_lists((*s)->gen, e, l) < 0)
		return 0;
	return e;
}

static __always_inline int list_at(__u32 gen, __u32 slot, __u32 *out)
{
	__u32 *v = KM_LOOKUP(km_lists, gen, &slot);
	if (!v)
		return -1;
	*out = *v;
	return 0;
}

#define BIT_WORD(id, max) (((id) & ((max)-1)) >> 6)
#define BIT_MASK(id) (1ULL << ((id)&63))

static __always_inline void set_bit(__u64 *bits, __u32 words, __u32 id, int on)
{
	__u32 w = (id >> 6) & (words - 1);
	if (on)
		bits[w] |= BIT_MASK(id);
	else
		bits[w] &= ~BIT_MASK(id);
}

static __always_inline int test_bit(__u64 *bits, __u32 words, __u32 id)
{
	__u32 w = (id >> 6) & (words - 1);
	return (bits[w] & BIT_MASK(id)) != 0;
}

#define WORDS (KMESH_MAX_MATCHES / 64)
_Static_assert(KMESH_MAX_MATCHES == KMESH_MAX_CLAUSES && KMESH_MAX_CLAUSES == KMESH_MAX_RULES,
	       "the stages share one bit-array size");

static __always_inline int in_addr_set(__u32 gen, __u32 set, const __u8 *addr, __u32 v6)
{
	struct kmesh_addr_set_key k = {};
	k.prefixlen = 32 + (v6 ? 128 : 32);
	k.set_fam = KMESH_SET_FAM(set, v6);
	__builtin_memcpy(k.addr, addr, 16);
	return KM_LOOKUP(km_addr_sets, gen, &k) != 0;
}

static __always_inline int in_port_set(__u32 gen, __u32 set, __u32 port)
{
	struct kmesh_port_key k = { .id = set, .port = port };
	return KM_LOOKUP(km_port_sets, gen, &k) != 0;
}

/* ------------------------------------------------------------------------------------------------
 * MATCH: every match of the eval, one per step.
 * ---------------------------------------------------------------------------------------------- */

struct match_loop {
	__u32 first0;     /* the eval's own match list */
	__u32 count0;
	__u32 first1;     /* its shared block's */
	__u32 count;      /* both */
	int error;
};

static __always_inline int match_holds(struct kmesh_match *m, struct kmesh_scratch *s)
{
	if (m->flags & KMESH_MATCH_NEVER)
		return 0;
	if (m->port_set && !in_port_set(s->gen, m->port_set, s->port))
		return 0;
	if (m->not_port_set && in_port_set(s->gen, m->not_port_set, s->port))
		return 0;
	if (m->src_set && !in_addr_set(s->gen, m->src_set, s->src, s->v6))
		return 0;
	if (m->not_src_set && in_addr_set(s->gen, m->not_src_set, s->src, s->v6))
		return 0;
	if (m->dst_set && !in_addr_set(s->gen, m->dst_set, s->dst, s->v6))
		return 0;
	if (m->not_dst_set && in_addr_set(s->gen, m->not_dst_set, s->dst, s->v6))
		return 0;
	if (m->id_set) {
		struct kmesh_id_set_key k = { .set_id = m->id_set, .member = m->flags & KMESH_MATCH_ID_BY_NS ? s->src_ns : s->src_id };
		int in = KM_LOOKUP(km_id_sets, s->gen, &k) != 0;
		if (m->flags & KMESH_MATCH_ID_NEGATE ? in : !in)
			return 0;
	}
	return 1;
}

static long match_step(__u64 i, void *arg)
{
	struct match_loop *l = arg;
	if (i >= l->count)
		return 1;
	struct kmesh_scratch *s = scratch();
	__u32 id;
	if (!s || list_at(s->gen, stage_slot(l->first0, l->count0, l->first1, (__u32)i), &id) < 0) {
		l->error = 1;
		return 1;
	}
	struct kmesh_match *m = KM_LOOKUP(km_matches, s->gen, &id);
	if (!m) {
		l->error = 1;
		return 1;
	}
	set_bit(s->match_bits, WORDS, id, match_holds(m, s));
	return 0;
}

SEC("xdp")
int kmesh_stage_match(struct xdp_md *ctx)
{
	struct kmesh_scratch *s;
	struct eval_lists el;
	struct kmesh_eval *e = stage_start(&s, &el);
	if (!e)
		return fail(s, KMESH_VERDICT_ERROR);
	struct match_loop l = {
		.first0 = el.first[KMESH_STAGE_MATCH][0],
		.count0 = el.count[KMESH_STAGE_MATCH][0],
		.first1 = el.first[KMESH_STAGE_MATCH][1],
		.count = stage_rows(&el, KMESH_STAGE_MATCH),
	};
	if (l.count > KMESH_MAX_STAGE_STEPS)
		return fail(s, KMESH_VERDICT_ERROR);
	if (l.count && bpf_loop(l.count, match_step, &l, 0) < 0)
		return fail(s, KMESH_VERDICT_ERROR);
	if (l.error)
		return fail(s, KMESH_VERDICT_ERROR);
	return advance(ctx, s, e, &el, KMESH_STAGE_CLAUSE);
}

/* ------------------------------------------------------------------------------------------------
 * CLAUSE and RULE: a row is the OR (clause) or AND (rule) of its members' bits. One step handles
 * one member, or one row with no member; a row decided early skips its remaining members.
 * ---------------------------------------------------------------------------------------------- */

/* Where a CLAUSE, RULE or POLICY loop is: a list of row ids, each row a range of member ids. */
struct row_cursor {
	__u32 list_first; /* the eval's own list of row ids */
	__u32 list_count0;
	__u32 list_first1; /* its shared block's list */
	__u32 list_count; /* both */
	__u32 row;        /* position in that list */
	__u32 row_id;
	__u32 member;     /* position in the row's range; 0 = row not started */
	__u32 m_first;    /* the row's member range, read by the caller when the row starts */
	__u32 m_count;
	int error;
};

/* The start of every loop step: NULL when the loop must stop (the list is done, or an error,
 * recorded in c->error), else the scratch, with c->row_id read when the row starts (member 0). */
static __always_inline struct kmesh_scratch *cursor_step(struct row_cursor *c)
{
	if (c->row >= c->list_count)
		return 0;
	struct kmesh_scratch *s = scratch();
	if (!s || (c->member == 0 && list_at(s->gen, stage_slot(c->list_first, c->list_count0, c->list_first1, c->row), &c->row_id) < 0)) {
		c->error = 1;
		return 0;
	}
	return s;
}

/* The current row's next member id; -1 (error recorded) when the list cannot be read. */
static __always_inline int cursor_member(struct row_cursor *c, __u32 gen, __u32 *id)
{
	if (list_at(gen, c->m_first + c->member, id) < 0) {
		c->error = 1;
		return -1;
	}
	c->member++;
	return 0;
}

static __always_inline void cursor_next_row(struct row_cursor *c)
{
	c->row++;
	c->member = 0;
}

struct group_loop {
	struct row_cursor c;
	int is_and;       /* RULE: AND of clauses; CLAUSE: OR of matches */
};

static __always_inline long group_step(struct group_loop *l)
{
	struct row_cursor *c = &l->c;
	struct kmesh_scratch *s = cursor_step(c);
	if (!s)
		return 1;
	if (c->member == 0) {
		struct kmesh_range *r = l->is_and ? KM_LOOKUP(km_rules, s->gen, &c->row_id) : KM_LOOKUP(km_clauses, s->gen, &c->row_id);
		if (!r) {
			c->error = 1;
			return 1;
		}
		c->m_first = r->first;
		c->m_count = r->count;
		if (c->m_count == 0) {
			/* An empty clause and an empty rule both always match (semantics §3). */
			set_bit(l->is_and ? s->rule_bits : s->clause_bits, WORDS, c->row_id, 1);
			cursor_next_row(c);
			return 0;
		}
	}
	__u32 member_id;
	if (cursor_member(c, s->gen, &member_id) < 0)
		return 1;
	int bit = test_bit(l->is_and ? s->clause_bits : s->match_bits, WORDS, member_id);
	/* OR decided by a true member, AND by a false one; otherwise by the last member. */
	int decided = l->is_and ? !bit : bit;
	if (decided || c->member >= c->m_count) {
		set_bit(l->is_and ? s->rule_bits : s->clause_bits, WORDS, c->row_id, bit);
		cursor_next_row(c);
	}
	return 0;
}

static long clause_step(__u64 i, void *arg)
{
	return group_step(arg);
}

static long rule_step(__u64 i, void *arg)
{
	return group_step(arg);
}

static __always_inline int run_group(struct group_loop *l)
{
	if (l->c.list_count == 0)
		return 0;
	bpf_loop(KMESH_MAX_STAGE_STEPS, l->is_and ? (void *)rule_step : (void *)clause_step, l, 0);
	return l->c.error || l->c.row < l->c.list_count ? -1 : 0;
}

/* CLAUSE (is_and 0: rows of the eval's clause list) and RULE (is_and 1: its rule list). */
static __always_inline int group_stage(struct xdp_md *ctx, int is_and)
{
	struct kmesh_scratch *s;
	struct eval_lists el;
	struct kmesh_eval *e = stage_start(&s, &el);
	if (!e)
		return fail(s, KMESH_VERDICT_ERROR);
	int stage = is_and ? KMESH_STAGE_RULE : KMESH_STAGE_CLAUSE;
	struct group_loop l = {
		.c = {
			.list_first = el.first[stage][0],
			.list_count0 = el.count[stage][0],
			.list_first1 = el.first[stage][1],
			.list_count = stage_rows(&el, stage),
		},
		.is_and = is_and,
	};
	if (run_group(&l) < 0)
		return fail(s, KMESH_VERDICT_ERROR);
	return advance(ctx, s, e, &el, is_and ? KMESH_STAGE_POLICY : KMESH_STAGE_RULE);
}

SEC("xdp")
int kmesh_stage_clause(struct xdp_md *ctx)
{
	return group_stage(ctx, 0);
}

SEC("xdp")
int kmesh_stage_rule(struct xdp_md *ctx)
{
	return group_stage(ctx, 1);
}

/* ------------------------------------------------------------------------------------------------
 * POLICY: the eval's policies, then its shared block's. A policy matches when any rule bit is set;
 * every policy is counted; the matched enforced DENY with the lowest id decides, else the matched
 * enforced ALLOW with the lowest id (ids are in name order: the first in decision order).
 * ---------------------------------------------------------------------------------------------- */

struct policy_loop {
	struct row_cursor c; /* rows are policies, members their rules */
	__u32 action;
	__u32 flags;
	__u32 deny_id;    /* lowest matched enforced DENY, or ~0 */
	__u32 allow_id;   /* lowest matched enforced ALLOW, or ~0 */
};

static __always_inline void policy_matched(struct policy_loop *l, __u32 gen)
{
	__u32 policy_id = l->c.row_id;
	struct kmesh_policy_stats *st = policy_stats(gen, policy_id);
	if (l->flags & KMESH_POLICY_DRY_RUN) {
		if (st)
			st->dry_run_matched++;
		return;
	}
	if (st)
		st->matched++;
	if (l->action == KMESH_ACTION_DENY) {
		if (policy_id < l->deny_id)
			l->deny_id = policy_id;
	} else if (policy_id < l->allow_id) {
		l->allow_id = policy_id;
	}
}

static long policy_step(__u64 i, void *arg)
{
	struct policy_loop *l = arg;
	struct row_cursor *c = &l->c;
	struct kmesh_scratch *s = cursor_step(c);
	if (!s)
		return 1;
	if (c->member == 0) {
		struct kmesh_policy *p = KM_LOOKUP(km_policies, s->gen, &c->row_id);
		if (!p) {
			c->error = 1;
			return 1;
		}
		c->m_first = p->rules_first;
		c->m_count = p->rules_count;
		l->action = p->action;
		l->flags = p->flags;
		if (c->m_count == 0) {
			cursor_next_row(c); /* a policy without rules never matches */
			return 0;
		}
	}
	__u32 rule_id;
	if (cursor_member(c, s->gen, &rule_id) < 0)
		return 1;
	int bit = test_bit(s->rule_bits, WORDS, rule_id);
	if (bit || c->member >= c->m_count) {
		if (bit)
			policy_matched(l, s->gen);
		cursor_next_row(c);
	}
	return 0;
}

SEC("xdp")
int kmesh_stage_policy(struct xdp_md *ctx)
{
	struct kmesh_scratch *s;
	struct eval_lists el;
	struct kmesh_eval *e = stage_start(&s, &el);
	if (!e)
		return fail(s, KMESH_VERDICT_ERROR);
	struct policy_loop l = {
		.c = {
			.list_first = el.first[KMESH_STAGE_POLICY][0],
			.list_count0 = el.count[KMESH_STAGE_POLICY][0],
			.list_first1 = el.first[KMESH_STAGE_POLICY][1],
			.list_count = stage_rows(&el, KMESH_STAGE_POLICY),
		},
		.deny_id = 0xffffffff,
		.allow_id = 0xffffffff,
	};
	__u32 has_allow = e->flags & KMESH_EVAL_HAS_ALLOW;
	if (l.c.list_count) {
		bpf_loop(KMESH_MAX_STAGE_STEPS, policy_step, &l, 0);
		if (l.c.error || l.c.row < l.c.list_count)
			return fail(s, KMESH_VERDICT_ERROR);
	}
	if (l.deny_id != 0xffffffff) {
		struct kmesh_policy_stats *st = policy_stats(s->gen, l.deny_id);
		if (st)
			st->denied++;
		s->policy_id = l.deny_id;
		s->verdict = KMESH_VERDICT_DENY_POLICY;
		count_verdict(KMESH_VERDICT_DENY_POLICY);
		return XDP_DROP;
	}
	if (!has_allow) {
		s->verdict = KMESH_VERDICT_ALLOW_NO_ALLOW;
		count_verdict(KMESH_VERDICT_ALLOW_NO_ALLOW);
		return XDP_PASS;
	}
	if (l.allow_id != 0xffffffff) {
		s->policy_id = l.allow_id;
		s->verdict = KMESH_VERDICT_ALLOW_POLICY;
		count_verdict(KMESH_VERDICT_ALLOW_POLICY);
		return XDP_PASS;
	}
	s->verdict = KMESH_VERDICT_DENY_NONE_ALLOW;
	count_verdict(KMESH_VERDICT_DENY_NONE_ALLOW);
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
