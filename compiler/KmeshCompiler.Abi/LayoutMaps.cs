using System.Collections.Immutable;
using System.Runtime.CompilerServices;

namespace KmeshCompiler.Abi;

/// <summary>One map of an image as bpf/kmesh_tables.h declares it.</summary>
public sealed record MapSpec(string Name, BpfMapType Type, int KeySize, int ValueSize, uint MaxEntries, uint Flags)
{
    public const uint NoPrealloc = 1; // BPF_F_NO_PREALLOC
}

public static partial class Layout
{
    /// <summary>SHA-256 of bpf/kmesh_tables.h with CR removed. LayoutTests fails when it is stale.</summary>
    public const string AbiHash = "01d672b26fba5a80ab4f62c558b92d5b6540eefc1fca56fce2512245033c1bd3";

    /// <summary>The maps an image carries, in image order.</summary>
    public static readonly ImmutableArray<MapSpec> ImageMaps =
    [
        new(MapWorkloads, BpfMapType.Hash, Unsafe.SizeOf<KmeshIpKey>(), Unsafe.SizeOf<KmeshWorkload>(), MaxWorkloadAddrs, 0),
        new(MapPortIndex, BpfMapType.Hash, Unsafe.SizeOf<KmeshPortKey>(), sizeof(uint), MaxPortIndex, 0),
        new(MapEvals, BpfMapType.Array, sizeof(uint), Unsafe.SizeOf<KmeshEval>(), MaxEvals, 0),
        new(MapLists, BpfMapType.Array, sizeof(uint), sizeof(uint), MaxLists, 0),
        new(MapPolicies, BpfMapType.Array, sizeof(uint), Unsafe.SizeOf<KmeshPolicy>(), MaxPolicies, 0),
        new(MapRules, BpfMapType.Array, sizeof(uint), Unsafe.SizeOf<KmeshRange>(), MaxRules, 0),
        new(MapClauses, BpfMapType.Array, sizeof(uint), Unsafe.SizeOf<KmeshRange>(), MaxClauses, 0),
        new(MapMatches, BpfMapType.Array, sizeof(uint), Unsafe.SizeOf<KmeshMatch>(), MaxMatches, 0),
        new(MapAddrSets, BpfMapType.LpmTrie, Unsafe.SizeOf<KmeshAddrSetKey>(), sizeof(uint), MaxAddrSetEntries, MapSpec.NoPrealloc),
        new(MapPortSets, BpfMapType.Hash, Unsafe.SizeOf<KmeshPortKey>(), sizeof(uint), MaxPortSetEntries, 0),
        new(MapDecisions, BpfMapType.Hash, Unsafe.SizeOf<KmeshDecisionKey>(), Unsafe.SizeOf<KmeshDecision>(), MaxDecisions, MapSpec.NoPrealloc),
        new(MapDecisionIndex, BpfMapType.Array, sizeof(uint), Unsafe.SizeOf<KmeshDecisionIndex>(), MaxDecisionIndex, 0),
        new(MapServices, BpfMapType.Hash, Unsafe.SizeOf<KmeshSvcKey>(), Unsafe.SizeOf<KmeshService>(), MaxServices, 0),
        new(MapEndpoints, BpfMapType.Hash, Unsafe.SizeOf<KmeshEndpointKey>(), sizeof(uint), MaxEndpoints, 0),
        new(MapBackends, BpfMapType.Array, sizeof(uint), Unsafe.SizeOf<KmeshBackend>(), MaxBackends, 0),
        new(MapMeta, BpfMapType.Array, sizeof(uint), Unsafe.SizeOf<KmeshMeta>(), MaxMeta, 0),
    ];

    public static MapSpec Map(string name) => ImageMaps.First(m => m.Name == name);
}
