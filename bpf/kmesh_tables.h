/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kmesh_tables.h - the table layouts shared by the BPF programs and the compiler.
 *
 * This header is the ABI between an image (written by `kmeshc compile`) and the programs in bpf/.
 * The C# mirror is compiler/KmeshCompiler.Abi/Layout*.cs; its ABI hash is the SHA-256 of this
 * file's bytes with CR removed (`tr -d '\r' < kmesh_tables.h | sha256sum`), so ANY edit here
 * changes the hash and a test fails until the mirror is updated. docs/dataplane-layout.md explains
 * the design; this file is the law for sizes and meanings.
 *
 * Conventions:
 *   - Addresses are 16 bytes in network byte order. IPv4 uses addr[0..3] and zeroes the rest; the
 *     family is always carried separately (v6 = 0 or 1), so an IPv4 entry never equals or contains
 *     an IPv6 address, IPv4-mapped ones included.
 *   - Ports are host-order __u32 (0..65535).
 *   - Ids are dense array indices starting at 0, except set ids where 0 means "no test".
 *   - A range {first, count} indexes km_lists, a flat array of __u32 ids.
 *   - Every struct is padded explicitly to a multiple of 8 bytes; no implicit padding anywhere.
 */
#ifndef KMESH_TABLES_H
#define KMESH_TABLES_H

#ifdef __KMESH_USERSPACE_TYPES
#include <stdint.h>
typedef uint8_t __u8;
typedef uint32_t __u32;
typedef uint64_t __u64;
#else
#include <linux/types.h>
#endif

#define KMESH_ABI_VERSION 2

/* ---------------------------------------------------------------------------------------------
 * Map names (BPF object names are at most 15 characters) and capacities (max_entries).
 * The compiler refuses an image that does not fit (KM7xxx); nothing is ever half loaded.
 * ------------------------------------------------------------------------------------------- */

/* Authorization (XDP). */
#define KMESH_MAP_WORKLOADS    "km_workloads"   /* HASH    kmesh_ip_key      -> kmesh_workload   */
#define KMESH_MAP_PORT_INDEX   "km_port_index"  /* HASH    kmesh_port_key    -> __u32 eval id    */
#define KMESH_MAP_EVALS        "km_evals"       /* ARRAY   eval id           -> kmesh_eval       */
#define KMESH_MAP_LISTS        "km_lists"       /* ARRAY   list slot         -> __u32 id         */
#define KMESH_MAP_POLICIES     "km_policies"    /* ARRAY   policy id         -> kmesh_policy     */
#define KMESH_MAP_RULES        "km_rules"       /* ARRAY   rule id           -> kmesh_range      */
#define KMESH_MAP_CLAUSES      "km_clauses"     /* ARRAY   clause id         -> kmesh_range      */
#define KMESH_MAP_MATCHES      "km_matches"     /* ARRAY   match id          -> kmesh_match      */
#define KMESH_MAP_ADDR_SETS    "km_addr_sets"   /* LPM     kmesh_addr_set_key -> __u32 set id    */
#define KMESH_MAP_PORT_SETS    "km_port_sets"   /* HASH    kmesh_port_key    -> __u32 set id     */
#define KMESH_MAP_IDENTITIES   "km_identities"  /* HASH    kmesh_ip_key      -> kmesh_identity   */
#define KMESH_MAP_ID_SETS      "km_id_sets"     /* HASH    kmesh_id_set_key  -> __u32 set id (no prealloc) */
#define KMESH_MAP_DECISIONS    "km_decisions"   /* HASH    kmesh_decision_key -> kmesh_decision  */
#define KMESH_MAP_DECISION_INDEX "km_decision_idx" /* ARRAY 0            -> kmesh_decision_index */
/* Load balancing (cgroup/connect4, connect6). */
#define KMESH_MAP_SERVICES     "km_services"    /* HASH    kmesh_svc_key     -> kmesh_service    */
#define KMESH_MAP_ENDPOINTS    "km_endpoints"   /* HASH    kmesh_endpoint_key -> __u32 backend id */
#define KMESH_MAP_BACKENDS     "km_backends"    /* HASH    backend id        -> kmesh_backend    */
/* Generations (loader/README.md). Every table above exists twice, as <name>_0 and <name>_1 (the
 * C identifiers and pin names; BPF object names are cut to 15 characters), one copy per generation
 * slot; km_active names the slot in force, and a packet reads it once. Written by the loader only: */
#define KMESH_MAP_ACTIVE       "km_active"      /* ARRAY   0                 -> __u32 slot (0 or 1) */
#define KMESH_MAP_STAT_IDS     "km_stat_ids"    /* ARRAY   policy id         -> __u32 counter slot, per generation */
#define KMESH_MAP_META         "km_meta"        /* ARRAY   generation slot   -> kmesh_meta (loader only) */
#define KMESH_MAP_NAMES        "km_names"       /* HASH    chunk index       -> kmesh_names_chunk, per generation (loader only) */
#define KMESH_MAP_STAT_NAMES   "km_stat_names"  /* HASH    counter slot      -> kmesh_stat_name (loader only) */
#define KMESH_MAP_STATE        "km_state"       /* ARRAY   0                 -> kmesh_loader_state (loader only) */
#define KMESH_MAP_RCU          "km_rcu"         /* ARRAY_OF_MAPS 0           -> a one-entry array: written to wait for readers */
/* Runtime only (never in an image). */
#define KMESH_MAP_PROGS        "km_progs"       /* PROG_ARRAY  stage index   -> program          */
#define KMESH_MAP_SCRATCH      "km_scratch"     /* PERCPU_ARRAY 0            -> kmesh_scratch    */
#define KMESH_MAP_POLICY_STATS "km_policy_stat" /* PERCPU_ARRAY policy id    -> kmesh_policy_stats */
#define KMESH_MAP_VERDICT_STATS "km_verdict_st" /* PERCPU_ARRAY verdict      -> __u64            */
#define KMESH_MAP_LB_STATS     "km_lb_stats"    /* PERCPU_ARRAY lb outcome   -> __u64            */

#define KMESH_MAX_WORKLOAD_ADDRS   65536   /* local workload addresses on the node       */
#define KMESH_MAX_PORT_INDEX       65536   /* (workload, port) -> eval entries           */
#define KMESH_MAX_EVALS            65536
#define KMESH_MAX_LISTS          1048576
#define KMESH_MAX_POLICIES         65536
#define KMESH_MAX_RULES            65536   /* power of two: ids are masked with (MAX-1)  */
#define KMESH_MAX_CLAUSES          65536   /* power of two: ids are masked with (MAX-1)  */
#define KMESH_MAX_MATCHES          65536   /* power of two: ids are masked with (MAX-1)  */
#define KMESH_MAX_ADDR_SET_ENTRIES 262144
#define KMESH_MAX_PORT_SET_ENTRIES 262144
#define KMESH_MAX_IDENTITY_ADDRS 1048576   /* every workload address of the cluster, both families */
#define KMESH_MAX_ID_SET_ENTRIES  262144   /* members of identity and namespace sets     */
#define KMESH_MAX_DECISIONS       262144   /* decision-table entries, all evals together */
#define KMESH_MAX_EVAL_DECISIONS    4096   /* source regions of one eval (see below)     */
#define KMESH_DECISION_MAX_LENGTHS     8   /* source prefix lengths probed, per family     */
#define KMESH_DECISION_NO_LENGTH    0xff   /* an unused kmesh_decision_index.lengths slot  */
#define KMESH_DECISION_PORT_WORDS   1024   /* 65,536 port bits                             */
#define KMESH_MAX_DECISION_INDEX       1
/* The service tables hold every Service of the cluster on every node (any of them can be reached
 * from any pod): sized for 300k pods with 3 service ports each, dual-stack (docs/dataplane-layout.md,
 * "Capacities", states what they cost). All three are BPF_F_NO_PREALLOC hashes. */
#define KMESH_MAX_SERVICES        262144   /* (VIP, service port, family) entries         */
#define KMESH_MAX_ENDPOINTS      2097152   /* every service of the cluster, weights expanded */
#define KMESH_MAX_BACKENDS       2097152   /* (workload address, target port) pairs       */
#define KMESH_GENERATIONS          2
#define KMESH_MAX_META             2       /* one kmesh_meta per generation slot           */
#define KMESH_MAX_NAMES_CHUNKS     16384   /* 64 MiB of names per generation              */
#define KMESH_MAX_STAT_NAMES       65536   /* counter slots: KMESH_MAX_POLICIES            */
#define KMESH_MAX_PROGS            8
#define KMESH_MAX_VERDICTS         8
#define KMESH_MAX_LB_OUTCOMES      8

/* ---------------------------------------------------------------------------------------------
 * Budgets. Evaluation runs bottom-up in four stages, each stage one pass over its rows:
 *   entry (XDP) -> MATCH -> CLAUSE -> RULE -> POLICY
 * so every evaluated packet takes at most KMESH_TAIL_CALLS tail calls, whatever the number of
 * policies (a stage whose list is empty is skipped; an eval with no policies is decided in the entry). Within a stage the program walks the eval's list for that stage; for CLAUSE, RULE and
 * POLICY each listed row also walks its member range. The work of a stage is counted in steps:
 *   MATCH  steps = match_count
 *   CLAUSE steps = clause_count + sum of the listed clauses' match counts
 *   RULE   steps = rule_count   + sum of the listed rules' clause counts
 *   POLICY steps = policy_count + sum of the listed policies' rule counts
 * The compiler refuses an eval whose steps in any stage exceed KMESH_MAX_STAGE_STEPS, so a stage
 * written as one bpf_loop(KMESH_MAX_STAGE_STEPS, ...) that advances (row, member) per step always
 * finishes. A stage that runs out of steps anyway fails closed (XDP_DROP, KMESH_VERDICT_ERROR).
 * ------------------------------------------------------------------------------------------- */
#define KMESH_TAIL_CALLS           4
#define KMESH_KERNEL_TAIL_CALL_LIMIT 33
#define KMESH_MAX_STAGE_STEPS      65536

/* Stage programs in km_progs. */
#define KMESH_STAGE_MATCH   0
#define KMESH_STAGE_CLAUSE  1
#define KMESH_STAGE_RULE    2
#define KMESH_STAGE_POLICY  3

/* ---------------------------------------------------------------------------------------------
 * Keys shared by several maps.
 * ------------------------------------------------------------------------------------------- */

/* km_workloads key: a local workload address. */
struct kmesh_ip_key {
	__u8  addr[16];
	__u32 v6;            /* 0 = IPv4 (addr[0..3]), 1 = IPv6 */
};                           /* 20 bytes */

/* km_port_index key (id = workload id) and km_port_sets key (id = port set id). */
struct kmesh_port_key {
	__u32 id;
	__u32 port;
};                           /* 8 bytes */

/* ---------------------------------------------------------------------------------------------
 * Authorization.
 * ------------------------------------------------------------------------------------------- */

/* km_workloads value. A destination address that is not in km_workloads is not a local
 * workload: the packet passes untouched and is not counted as a verdict. */
struct kmesh_workload {
	__u32 workload_id;   /* key of km_port_index; index of the workload in the image's names */
	__u32 eval_id;       /* eval for ports that have no km_port_index entry */
};                           /* 8 bytes */

/* km_evals value: what one (workload, port class) evaluates. Ranges index km_lists:
 * matches -> match ids, clauses -> clause ids, rules -> rule ids, policies -> policy ids.
 * The policy list is in decision order: enforced and dry-run DENY policies first, then ALLOW,
 * each by name. It holds only the policies that can match a packet to a port of this class;
 * KMESH_EVAL_HAS_ALLOW says whether the workload has any enforced ALLOW policy at all (listed or
 * not), which decides between "no allow policies" and "none allowed". */
#define KMESH_EVAL_HAS_ALLOW 0x1u
#define KMESH_EVAL_BLOCK     0x2u      /* a shared block: only ever reached through `shared` */
struct kmesh_eval {
	__u32 flags;
	__u32 match_first;
	__u32 match_count;
	__u32 clause_first;
	__u32 clause_count;
	__u32 rule_first;
	__u32 rule_count;
	__u32 policy_first;
	__u32 policy_count;
	__u32 shared;        /* 0: none; else 1 + the km_evals id of a shared block (see below) */
};                           /* 40 bytes */

/* Shared blocks. The mesh-wide (root-namespace) policies apply to every workload, so their rows
 * would be repeated in every eval's lists. Instead they are stored once per distinct set, as a
 * km_evals row flagged KMESH_EVAL_BLOCK whose four lists hold exactly those policies and every row
 * they reach; an eval names it in `shared`. Every stage walks the eval's own list, then the block's
 * (the eval's own lists leave out rows the block already lists), so the steps of a stage are the
 * sum of both. The POLICY stage decides by the matched enforced DENY with the lowest policy id,
 * else the matched enforced ALLOW with the lowest id: policy ids are assigned in name order and
 * DENY is tested before ALLOW, which is exactly "the first in decision order" of one merged list. */

/* km_lists value is a bare __u32 id. */

/* A {first, count} range into km_lists. km_rules: the rule's clause ids; km_clauses: the
 * clause's match ids. */
struct kmesh_range {
	__u32 first;
	__u32 count;
};                           /* 8 bytes */

/* km_policies value. Policy ids index km_policy_stat and the image's policy names; a policy row
 * is never shared between two policies (counters are per policy). */
#define KMESH_ACTION_ALLOW 0u
#define KMESH_ACTION_DENY  1u
#define KMESH_POLICY_DRY_RUN 0x1u      /* counted (dry_run_matched), never enforced */
struct kmesh_policy {
	__u32 rules_first;   /* range in km_lists of rule ids */
	__u32 rules_count;
	__u32 action;        /* KMESH_ACTION_* */
	__u32 flags;         /* KMESH_POLICY_* */
};                           /* 16 bytes */

/* km_matches value. Each test is one lookup; a set id of 0 means "no test" (passes).
 *   src_set      source address must be in the set       (sourceIps)
 *   not_src_set  source address must not be in the set   (notSourceIps)
 *   dst_set      destination address must be in the set  (destinationIps)
 *   not_dst_set  destination address must not be in it  (notDestinationIps)
 *   port_set     destination port must be in the set     (ports)
 *   not_port_set destination port must not be in the set (notPorts)
 *   id_set       identity test: every identity field of the match (namespaces, principals,
 *                serviceAccounts and their negations) is folded at compile time into ONE set of
 *                km_id_sets. The source's identity comes from km_identities (id and namespace id;
 *                an address of no workload has id 0 and namespace 0). The member tested is the
 *                source's namespace id with KMESH_MATCH_ID_BY_NS, else its identity id. Without
 *                KMESH_MATCH_ID_NEGATE the test passes when the member is in id_set, with it when
 *                it is not. A set may hold member 0, which is how the compiler says what a source
 *                without identity does (semantics.md §3: positive identity matches fail, negated
 *                ones hold, a namespace compares as "").
 * KMESH_MATCH_NEVER: the match never matches (an empty match, or one no packet can satisfy).
 * The empty-list meanings are ABI: a clause with count 0 always matches; a rule with count 0
 * always matches; a policy with rules_count 0 never matches; a KMESH_MATCH_NEVER match never does. */
#define KMESH_MATCH_NEVER     0x1u
#define KMESH_MATCH_ID_NEGATE 0x2u
#define KMESH_MATCH_ID_BY_NS  0x4u
struct kmesh_match {
	__u32 flags;
	__u32 src_set;
	__u32 not_src_set;
	__u32 dst_set;
	__u32 not_dst_set;
	__u32 port_set;
	__u32 not_port_set;
	__u32 id_set;
};                           /* 32 bytes */

/* km_addr_sets key (BPF_MAP_TYPE_LPM_TRIE, BPF_F_NO_PREALLOC). One trie holds every address set.
 * set_fam = set_id << 1 | v6, so the two families of a set never overlap. prefixlen counts the
 * 32 bits of set_fam plus the address prefix: a lookup uses prefixlen = 32 + 32 (IPv4) or
 * 32 + 128 (IPv6) with the packet's address. Value: the set id (for dumps). */
#define KMESH_SET_FAM(set_id, v6) (((set_id) << 1) | (v6))
struct kmesh_addr_set_key {
	__u32 prefixlen;
	__u32 set_fam;
	__u8  addr[16];
};                           /* 24 bytes */

/* km_port_sets: key kmesh_port_key {port set id, port}, value the set id. */

/* km_identities (BPF_MAP_TYPE_HASH, BPF_F_NO_PREALLOC): every workload address of the cluster that
 * lends an identity (host-network pods do not) -> its identity. The kernel resolves identity by
 * source address (semantics.md §3); an address not in this table has no identity (id 0, ns 0).
 * id and ns are numbers the compiler derives from the principal and the namespace name (stable
 * across compiles; 0 is never used). cls is the decision class of the address (km_decisions): two
 * addresses of one class pass exactly the same identity and source-address tests of this image; 0
 * is the class of addresses that no such test names. Every entry is a host address, so the table
 * is an exact-match hash (one probe) rather than a trie. */
struct kmesh_identity {
	__u32 id;
	__u32 ns;
	__u32 cls;
	__u32 reserved;
};                           /* 16 bytes */

/* km_id_sets key: {set id, member}, member an identity id or a namespace id (0 = no identity);
 * value the set id. */
struct kmesh_id_set_key {
	__u32 set_id;
	__u32 member;
};                           /* 8 bytes */

/* km_decisions (BPF_MAP_TYPE_HASH, BPF_F_NO_PREALLOC): the decision table, checked by the entry
 * before the stages, so that a SYN it covers costs one or two hash lookups after the source's
 * identity. For one local workload address and one port the verdict is a function of the source's
 * identity and address alone. For a source without identity it is a function of the address: the
 * compiler partitions the source space at every prefix of the address sets the eval's matches test
 * the source against, decides each region once, drops the regions that decide like their enclosing
 * one, and stores the rest. A region is a prefix minus the longer prefixes stored under it: what a
 * longest-prefix lookup returns; a /0 region covers the rest of the family.
 * Sources with an identity (a hit in km_identities) are keyed by decision class instead of by
 * address: src_len = KMESH_DECISION_CLASS, src zero, cls = the class; the entry probes class 0, which
 * holds the decision of every class not stored for that destination and port, then the source's
 * class when class 0's class_bloom says it may have an entry of its own. Sources without identity
 * probe by address as follows, with cls 0.
 * Key: dst is the local workload address (the SYN's destination); port is the SYN's port when the
 * decision for that address depends on which port it is (a km_port_index port, or a port the
 * default eval's matches name), KMESH_DECISION_OTHER_PORT for every other port; src is the source
 * prefix with its host bits zero (and bytes 4..15 zero for IPv4); src_len its length.
 * The lookup is longest-prefix match by probing (kmesh_decision_index): port = the SYN's port when
 * its bit is set in ports, else OTHER; then for each length of lengths[family], longest first, one
 * hash lookup of the source masked to that length; the first hit is the longest stored prefix that
 * holds the source. When the port's bit is set but no length hits, the address has no per-port
 * table for it and the probes repeat with OTHER. (An LPM trie answers the same question, but its
 * walk costs several hash lookups.) A value with KMESH_DECISION_STAGES, or a miss, continues as if
 * there were no table: km_workloads, km_port_index, the eval and the stages. A per-port table the
 * compiler could not build, for an address that has an OTHER table, is stored as one /0 entry with
 * KMESH_DECISION_STAGES, so that the OTHER retry cannot answer for it. An eval whose partition exceeds KMESH_MAX_EVAL_DECISIONS regions,
 * whose default class names more ports than the compiler allows, whose lengths would take the
 * image past KMESH_DECISION_MAX_LENGTHS per family, or that would overflow KMESH_MAX_DECISIONS has
 * no table. */
#define KMESH_DECISION_OTHER_PORT 0xffffffffu
#define KMESH_DECISION_CLASS      0xffffu  /* src_len of an entry keyed by decision class */
struct kmesh_decision_key {
	__u32 src_len;
	__u32 port;
	struct kmesh_ip_key dst;
	__u8  src[16];
	__u32 cls;
};                           /* 48 bytes */

/* km_decision_idx: the one entry says what the entry probes. lengths[0] (IPv4) and lengths[1]
 * (IPv6) are the source prefix lengths km_decisions uses for that family, longest first, unused
 * slots KMESH_DECISION_NO_LENGTH; bit p of ports (ports[p / 64] >> (p % 64)) is set when some
 * address has entries keyed by port p. With KMESH_INDEX_LOCAL_FILTER, bit h of local is set for
 * every km_workloads address, h = its last two bytes (addr[2..3] for IPv4, addr[14..15] for IPv6),
 * so a SYN whose bit is clear is not for a local workload and passes without any hash lookup. */
#define KMESH_INDEX_LOCAL_FILTER 0x1u
struct kmesh_decision_index {
	__u32 flags;
	__u8  lengths[2][KMESH_DECISION_MAX_LENGTHS];
	__u32 reserved;
	__u64 ports[KMESH_DECISION_PORT_WORDS];
	__u64 local[KMESH_DECISION_PORT_WORDS];
};                           /* 16,408 bytes */

/* km_decisions value: the verdict (KMESH_VERDICT_ALLOW_POLICY .. KMESH_VERDICT_DENY_NONE_ALLOW),
 * the deciding policy (or ~0), and every policy whose counter the packet increments, as the POLICY
 * stage would: matched[0 .. count-1] are policy ids, KMESH_DECISION_DRY_RUN marking the dry-run
 * ones (dry_run_matched, else matched; the deciding DENY also counts denied). A region in which
 * more than KMESH_DECISION_MAX_MATCHED policies match is stored with KMESH_DECISION_STAGES.
 * stage_ports (an entry keyed by KMESH_DECISION_OTHER_PORT only; 0 = none): a km_port_sets set of
 * ports this entry must not answer for, because the eval names them and the compiler built no
 * per-port table for them at this address (more named ports than it keys): a SYN to one of them
 * takes the stages.
 * class_bloom (class-0 entries only): bit (c % 64) is set for every class c that has an entry of its
 * own at this destination and port. The entry probes class 0 first and the source's class only when
 * its bit is set, so a source whose class decides like class 0 costs one probe. */
#define KMESH_DECISION_MAX_MATCHED 6
#define KMESH_DECISION_DRY_RUN 0x80000000u
#define KMESH_DECISION_STAGES  0x1u
struct kmesh_decision {
	__u32 verdict;
	__u32 policy_id;
	__u32 flags;
	__u32 count;
	__u32 matched[KMESH_DECISION_MAX_MATCHED];
	__u32 stage_ports;
	__u32 reserved;
	__u64 class_bloom;
};                           /* 56 bytes */

/* ---------------------------------------------------------------------------------------------
 * Runtime state (not in images).
 * ------------------------------------------------------------------------------------------- */

/* Verdict counters (km_verdict_st index). */
#define KMESH_VERDICT_ALLOW_POLICY     0   /* an enforced ALLOW matched                     */
#define KMESH_VERDICT_ALLOW_NO_ALLOW   1   /* no enforced ALLOW policy on the workload      */
#define KMESH_VERDICT_DENY_POLICY      2   /* an enforced DENY matched                      */
#define KMESH_VERDICT_DENY_NONE_ALLOW  3   /* ALLOW policies exist, none matched            */
#define KMESH_VERDICT_ERROR            4   /* missing row or step budget exceeded: dropped  */
#define KMESH_VERDICT_UNPARSED         5   /* a SYN the entry could not parse: see bpf docs */

/* km_policy_stat value (per CPU), indexed by counter slot. A counter slot belongs to a policy name
 * for as long as that name is in a generation the loader keeps (km_stat_names), so counters survive
 * swaps, restarts and policy ids that change between images; the programs find a policy id's slot
 * in the km_stat_ids map of the packet's generation. */
struct kmesh_policy_stats {
	__u64 matched;          /* enforced policy matched                          */
	__u64 denied;           /* the SYN was dropped because of this DENY policy  */
	__u64 dry_run_matched;  /* dry-run policy matched (never enforced)          */
};                              /* 24 bytes */

/* km_scratch value: state handed from stage to stage (per CPU, one entry). The result bits are
 * indexed by global id (masked with MAX-1); a stage only reads bits the previous stage of the same
 * packet wrote, because an eval lists every row its listed rows refer to. */
struct kmesh_scratch {
	__u8  src[16];
	__u8  dst[16];
	__u32 v6;
	__u32 port;
	__u32 workload_id;
	__u32 eval_id;
	__u32 verdict;          /* KMESH_VERDICT_* */
	__u32 policy_id;        /* deciding policy, when there is one */
	__u32 gen;              /* the generation slot the entry read from km_active */
	__u32 src_id;           /* the source's identity (km_identities; 0: none) */
	__u32 src_ns;           /* the source's namespace id (0: none) */
	__u32 reserved;
	__u64 match_bits[KMESH_MAX_MATCHES / 64];
	__u64 clause_bits[KMESH_MAX_CLAUSES / 64];
	__u64 rule_bits[KMESH_MAX_RULES / 64];
};

/* ---------------------------------------------------------------------------------------------
 * Load balancing.
 * ------------------------------------------------------------------------------------------- */

#define KMESH_PRIORITIES 12          /* 6 scopes with NETWORK first: ranks 0..11         */
#define KMESH_MAX_WEIGHT 16          /* an endpoint appears min(capacity, 16) times      */

#define KMESH_LB_UNSPECIFIED 0u      /* one bucket (priority 0) holds every endpoint     */
#define KMESH_LB_STRICT      1u      /* priority 0 only; empty -> leave the connection   */
#define KMESH_LB_FAILOVER    2u      /* first non-empty priority                         */
#define KMESH_LB_PASSTHROUGH 3u      /* never rewritten                                  */

/* km_services key: a service address (VIP) and service port. */
struct kmesh_svc_key {
	__u8  addr[16];
	__u32 v6;
	__u32 port;
};                           /* 24 bytes */

/* km_services value. counts[p] is the number of endpoint slots at priority p (weights already
 * expanded); a connect picks a slot uniformly at random within the chosen priority. The endpoints
 * of a service id all have the family of the VIP that leads to it. */
struct kmesh_service {
	__u32 service_id;    /* (service, port, family); key of km_endpoints */
	__u32 mode;          /* KMESH_LB_* */
	__u32 counts[KMESH_PRIORITIES];
};                           /* 56 bytes */

struct kmesh_endpoint_key {
	__u32 service_id;
	__u32 priority;
	__u32 index;         /* 0 .. counts[priority]-1 */
};                           /* 12 bytes */

/* km_backends value: where a slot leads; port is the workload's target port. */
struct kmesh_backend {
	__u8  addr[16];
	__u32 v6;
	__u32 port;
};                           /* 24 bytes */

/* LB outcome counters (km_lb_stats index). */
#define KMESH_LB_OUT_REWRITTEN    0
#define KMESH_LB_OUT_NO_ENDPOINT  1   /* STRICT/FAILOVER with nothing selectable: untouched */
#define KMESH_LB_OUT_PASSTHROUGH  2
#define KMESH_LB_OUT_ERROR        3

/* ---------------------------------------------------------------------------------------------
 * Generations: written by the loader, read by the programs only through km_active and km_stat_ids.
 * ------------------------------------------------------------------------------------------- */

/* km_meta value: which image a generation slot holds. state says whether the slot's tables are
 * complete (KMESH_GEN_COMPLETE: every table and the names were written and match tables[]) or being
 * written (anything else: the next load rewrites them without trusting their contents). tables[i]
 * describes the i-th image table in image order (docs/image.md): its entry count and the XXH128
 * (16 bytes) of its keys and values in order, so a load rewrites only the tables that differ. */
#define KMESH_GEN_EMPTY     0u
#define KMESH_GEN_WRITING   1u
#define KMESH_GEN_COMPLETE  2u
#define KMESH_IMAGE_TABLES 20          /* room for the image's tables (17 today)          */
struct kmesh_table_state {
	__u32 entries;
	__u32 reserved;
	__u8  hash[16];
};                           /* 24 bytes */

struct kmesh_meta {
	__u8  abi_hash[32];
	__u8  content_hash[32];  /* the image file's content hash */
	__u32 format_version;
	__u32 abi_version;
	__u64 generation;        /* counts loads on this pin directory; 0 = never loaded */
	__u32 state;             /* KMESH_GEN_* */
	__u32 names_len;         /* bytes of the names blob in this slot's km_names */
	__u8  names_hash[16];      /* fingerprint of the names (loader/KmeshCompiler.Loader/Node/Publisher.cs) */
	struct kmesh_table_state tables[KMESH_IMAGE_TABLES];
};                           /* 584 bytes */

/* km_names value: one 4 KiB chunk of a generation's names blob (node name and the image's names
 * section, loader/README.md), chunk i at key i. */
#define KMESH_NAMES_CHUNK 4096
struct kmesh_names_chunk {
	__u8  bytes[KMESH_NAMES_CHUNK];
};

/* km_stat_names value: the policy name ("namespace/name", UTF-8) that owns a counter slot. */
#define KMESH_STAT_NAME_MAX 316
struct kmesh_stat_name {
	__u32 len;
	__u8  name[KMESH_STAT_NAME_MAX];
};                           /* 320 bytes */

/* km_state value: the loader's own record. abi_hash is the ABI of the pinned programs (an image or
 * a kmeshc of another ABI is refused); quiesced is the generation after whose publication the
 * loader last waited for every packet that could still read the other slot. */
struct kmesh_loader_state {
	__u8  abi_hash[32];
	__u64 quiesced;
	__u64 reserved;
};                           /* 48 bytes */

#endif /* KMESH_TABLES_H */
