using System.Collections.Immutable;
using System.Runtime.CompilerServices;

namespace KmeshCompiler.Abi;

/// <summary>One map as bpf/kmesh_tables.h declares it. <see cref="PerGeneration"/> maps exist once per
/// generation slot, as <c>NAME_0</c> and <c>NAME_1</c>.</summary>
public sealed record MapSpec(string Name, BpfMapType Type, int KeySize, int ValueSize, uint MaxEntries, uint Flags, bool PerGeneration = false)
{
    public const uint NoPrealloc = 1; // BPF_F_NO_PREALLOC

    /// <summary>The name of this map's copy for a generation slot (the C identifier and pin name).</summary>
    public string In(int slot) => PerGeneration ? Layout.SlotName(Name, slot) : Name;
}

public static partial class Layout
{
    /// <summary>SHA-256 of bpf/kmesh_tables.h with CR removed. LayoutTests fails when it is stale.</summary>
    public const string AbiHash = "a27f1ce6b9f2363e9ece9831c3b117bec4328b1b5f64cf880f2156860325907e";

    // Image tables (KMESH_MAP_*).
    public const string MapWorkloads = "km_workloads";
    public const string MapPortIndex = "km_port_index";
    public const string MapEvals = "km_evals";
    public const string MapLists = "km_lists";
    public const string MapPolicies = "km_policies";
    public const string MapRules = "km_rules";
    public const string MapClauses = "km_clauses";
    public const string MapMatches = "km_matches";
    public const string MapAddrSets = "km_addr_sets";
    public const string MapPortSets = "km_port_sets";
    public const string MapIdentities = "km_identities";
    public const string MapIdSets = "km_id_sets";
    public const string MapServices = "km_services";
    public const string MapEndpoints = "km_endpoints";
    public const string MapBackends = "km_backends";

    // Generations, written by the loader.
    public const string MapActive = "km_active";
    public const string MapStatIds = "km_stat_ids";
    public const string MapMeta = "km_meta";
    public const string MapNames = "km_names";
    public const string MapStatNames = "km_stat_names";
    public const string MapState = "km_state";
    public const string MapRcu = "km_rcu";

    // Runtime state.
    public const string MapProgs = "km_progs";
    public const string MapScratch = "km_scratch";
    public const string MapPolicyStats = "km_policy_stat";
    public const string MapVerdictStats = "km_verdict_st";
    public const string MapLbStats = "km_lb_stats";

    /// <summary>A per-generation map's copy for a slot: <c>NAME_SLOT</c>.</summary>
    public static string SlotName(string name, int slot) =>
        (uint)slot < Generations ? $"{name}_{slot}" : throw new ArgumentOutOfRangeException(nameof(slot));

    /// <summary>The maps an image carries, in image order (each one per generation slot when loaded).</summary>
    public static readonly ImmutableArray<MapSpec> ImageMaps =
    [
        new(MapWorkloads, BpfMapType.Hash, Unsafe.SizeOf<KmeshIpKey>(), Unsafe.SizeOf<KmeshWorkload>(), MaxWorkloadAddrs, 0, true),
        new(MapPortIndex, BpfMapType.Hash, Unsafe.SizeOf<KmeshPortKey>(), sizeof(uint), MaxPortIndex, 0, true),
        new(MapEvals, BpfMapType.Array, sizeof(uint), Unsafe.SizeOf<KmeshEval>(), MaxEvals, 0, true),
        new(MapLists, BpfMapType.Array, sizeof(uint), sizeof(uint), MaxLists, 0, true),
        new(MapPolicies, BpfMapType.Array, sizeof(uint), Unsafe.SizeOf<KmeshPolicy>(), MaxPolicies, 0, true),
        new(MapRules, BpfMapType.Array, sizeof(uint), Unsafe.SizeOf<KmeshRange>(), MaxRules, 0, true),
        new(MapClauses, BpfMapType.Array, sizeof(uint), Unsafe.SizeOf<KmeshRange>(), MaxClauses, 0, true),
        new(MapMatches, BpfMapType.Array, sizeof(uint), Unsafe.SizeOf<KmeshMatch>(), MaxMatches, 0, true),
        new(MapAddrSets, BpfMapType.LpmTrie, Unsafe.SizeOf<KmeshAddrSetKey>(), sizeof(uint), MaxAddrSetEntries, MapSpec.NoPrealloc, true),
        new(MapPortSets, BpfMapType.Hash, Unsafe.SizeOf<KmeshPortKey>(), sizeof(uint), MaxPortSetEntries, MapSpec.NoPrealloc, true),
        new(MapIdentities, BpfMapType.Hash, Unsafe.SizeOf<KmeshIpKey>(), Unsafe.SizeOf<KmeshIdentity>(), MaxIdentityAddrs, MapSpec.NoPrealloc, true),
        new(MapIdSets, BpfMapType.Hash, Unsafe.SizeOf<KmeshIdSetKey>(), sizeof(uint), MaxIdSetEntries, MapSpec.NoPrealloc, true),
        new(MapDecisions, BpfMapType.Hash, Unsafe.SizeOf<KmeshDecisionKey>(), Unsafe.SizeOf<KmeshDecision>(), MaxDecisions, MapSpec.NoPrealloc, true),
        new(MapDecisionIndex, BpfMapType.Array, sizeof(uint), Unsafe.SizeOf<KmeshDecisionIndex>(), MaxDecisionIndex, 0, true),
        new(MapServices, BpfMapType.Hash, Unsafe.SizeOf<KmeshSvcKey>(), Unsafe.SizeOf<KmeshService>(), MaxServices, MapSpec.NoPrealloc, true),
        new(MapEndpoints, BpfMapType.Hash, Unsafe.SizeOf<KmeshEndpointKey>(), sizeof(uint), MaxEndpoints, MapSpec.NoPrealloc, true),
        new(MapBackends, BpfMapType.Hash, sizeof(uint), Unsafe.SizeOf<KmeshBackend>(), MaxBackends, MapSpec.NoPrealloc, true),
    ];

    /// <summary>Every map of a node's data plane besides the image tables: the generation records the
    /// loader writes and the runtime state the programs keep (km_rcu is the loader's alone: an
    /// array of maps it writes to wait for readers).</summary>
    public static readonly ImmutableArray<MapSpec> NodeMaps =
    [
        new(MapActive, BpfMapType.Array, sizeof(uint), sizeof(uint), 1, 0),
        new(MapStatIds, BpfMapType.Array, sizeof(uint), sizeof(uint), MaxPolicies, 0, true),
        new(MapNames, BpfMapType.Hash, sizeof(uint), NamesChunk, MaxNamesChunks, MapSpec.NoPrealloc, true),
        new(MapMeta, BpfMapType.Array, sizeof(uint), Unsafe.SizeOf<KmeshMeta>(), MaxMeta, 0),
        new(MapStatNames, BpfMapType.Hash, sizeof(uint), Unsafe.SizeOf<KmeshStatName>(), MaxStatNames, MapSpec.NoPrealloc),
        new(MapState, BpfMapType.Array, sizeof(uint), Unsafe.SizeOf<KmeshLoaderState>(), 1, 0),
        new(MapScratch, BpfMapType.PerCpuArray, sizeof(uint), KmeshScratch.Size, 1, 0),
        new(MapProgs, BpfMapType.ProgArray, sizeof(uint), sizeof(uint), MaxProgs, 0),
        new(MapPolicyStats, BpfMapType.PerCpuArray, sizeof(uint), Unsafe.SizeOf<KmeshPolicyStats>(), MaxPolicies, 0),
        new(MapVerdictStats, BpfMapType.PerCpuArray, sizeof(uint), sizeof(ulong), MaxVerdicts, 0),
        new(MapLbStats, BpfMapType.PerCpuArray, sizeof(uint), sizeof(ulong), MaxLbOutcomes, 0),
    ];

    public static MapSpec Map(string name) => ImageMaps.Concat(NodeMaps).First(m => m.Name == name);
}
