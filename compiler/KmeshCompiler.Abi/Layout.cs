using System.Runtime.InteropServices;

namespace KmeshCompiler.Abi;

// The C# mirror of bpf/kmesh_tables.h (map names and specs are in LayoutMaps.cs). Field order, sizes and constants must agree with the header;
// LayoutTests checks the sizes here, the ABI hash against the header text, and (where clang is
// available) the offsets against the BTF of a compiled object.

/// <summary>Constants of bpf/kmesh_tables.h.</summary>
public static partial class Layout
{
    public const uint AbiVersion = 2;

    public const uint MaxWorkloadAddrs = 65536;
    public const uint MaxPortIndex = 65536;
    public const uint MaxEvals = 65536;
    public const uint MaxLists = 1048576;
    public const uint MaxPolicies = 65536;
    public const uint MaxRules = 65536;
    public const uint MaxClauses = 65536;
    public const uint MaxMatches = 65536;
    public const uint MaxAddrSetEntries = 262144;
    public const uint MaxPortSetEntries = 262144;
    public const uint MaxIdentityAddrs = 1048576;
    public const uint MaxIdSetEntries = 262144;
    public const uint MaxServices = 262144;
    public const uint MaxEndpoints = 2097152;
    public const uint MaxBackends = 2097152;
    public const int Generations = 2;
    public const uint MaxMeta = Generations;
    public const uint MaxNamesChunks = 16384;
    public const int NamesChunk = 4096;
    public const uint MaxStatNames = MaxPolicies;
    public const int StatNameMax = 316;
    public const int ImageTables = 20;
    public const uint GenEmpty = 0, GenWriting = 1, GenComplete = 2;
    public const uint MaxProgs = 8;

    public const int TailCalls = 4;
    public const int KernelTailCallLimit = 33;
    public const uint MaxStageSteps = 65536;

    public const uint EvalHasAllow = 0x1;
    /// <summary>KMESH_EVAL_BLOCK: a km_evals row that is a shared block, reached only through an eval's <c>shared</c>.</summary>
    public const uint EvalBlock = 0x2;
    public const uint ActionAllow = 0;
    public const uint ActionDeny = 1;
    public const uint PolicyDryRun = 0x1;
    public const uint MatchNever = 0x1;
    public const uint MatchIdNegate = 0x2;
    public const uint MatchIdByNs = 0x4;

    // Verdict counters (km_verdict_st index, KMESH_VERDICT_*).
    public const uint VerdictAllowPolicy = 0, VerdictAllowNoAllow = 1, VerdictDenyPolicy = 2, VerdictDenyNoneAllow = 3,
        VerdictError = 4, VerdictUnparsed = 5;
    public const uint MaxVerdicts = 8;

    // Load-balancing outcome counters (km_lb_stats index, KMESH_LB_OUT_*).
    public const uint LbOutRewritten = 0, LbOutNoEndpoint = 1, LbOutPassthrough = 2, LbOutError = 3;
    public const uint MaxLbOutcomes = 8;

    public const int Priorities = 12;
    public const uint MaxWeight = 16;

    public const uint LbUnspecified = 0;
    public const uint LbStrict = 1;
    public const uint LbFailover = 2;
    public const uint LbPassthrough = 3;

    public static uint SetFam(uint setId, bool v6) => (setId << 1) | (v6 ? 1u : 0u);

}

/// <summary>enum bpf_map_type (the values this project uses and a few neighbours).</summary>
public enum BpfMapType : uint
{
    Unspec = 0, Hash = 1, Array = 2, ProgArray = 3, PerfEventArray = 4, PerCpuHash = 5, PerCpuArray = 6,
    StackTrace = 7, CgroupArray = 8, LruHash = 9, LruPerCpuHash = 10, LpmTrie = 11, ArrayOfMaps = 12,
    HashOfMaps = 13,
}

[StructLayout(LayoutKind.Sequential, Size = 20)]
public unsafe struct KmeshIpKey
{
    public fixed byte Addr[16];
    public uint V6;
}

[StructLayout(LayoutKind.Sequential, Size = 8)]
public struct KmeshPortKey
{
    public uint Id;
    public uint Port;
}

[StructLayout(LayoutKind.Sequential, Size = 8)]
public struct KmeshWorkload
{
    public uint WorkloadId;
    public uint EvalId;
}

[StructLayout(LayoutKind.Sequential, Size = 40)]
public struct KmeshEval
{
    public uint Flags;
    public uint MatchFirst;
    public uint MatchCount;
    public uint ClauseFirst;
    public uint ClauseCount;
    public uint RuleFirst;
    public uint RuleCount;
    public uint PolicyFirst;
    public uint PolicyCount;
    /// <summary>0: none; else 1 + the km_evals id of the shared block walked after this eval's own lists.</summary>
    public uint Shared;
}

[StructLayout(LayoutKind.Sequential, Size = 8)]
public struct KmeshRange
{
    public uint First;
    public uint Count;
}

[StructLayout(LayoutKind.Sequential, Size = 16)]
public struct KmeshPolicy
{
    public uint RulesFirst;
    public uint RulesCount;
    public uint Action;
    public uint Flags;
}

[StructLayout(LayoutKind.Sequential, Size = 32)]
public struct KmeshMatch
{
    public uint Flags;
    public uint SrcSet;
    public uint NotSrcSet;
    public uint DstSet;
    public uint NotDstSet;
    public uint PortSet;
    public uint NotPortSet;
    public uint IdSet;
}

[StructLayout(LayoutKind.Sequential, Size = 24)]
public unsafe struct KmeshAddrSetKey
{
    public uint Prefixlen;
    public uint SetFam;
    public fixed byte Addr[16];
}

[StructLayout(LayoutKind.Sequential, Size = 16)]
public struct KmeshIdentity
{
    public uint Id;
    public uint Ns;
    public uint Cls;
    public uint Reserved;
}

[StructLayout(LayoutKind.Sequential, Size = 8)]
public struct KmeshIdSetKey
{
    public uint SetId;
    public uint Member;
}

[StructLayout(LayoutKind.Sequential, Size = 24)]
public struct KmeshPolicyStats
{
    public ulong Matched;
    public ulong Denied;
    public ulong DryRunMatched;
}

[StructLayout(LayoutKind.Sequential, Size = 24)]
public unsafe struct KmeshSvcKey
{
    public fixed byte Addr[16];
    public uint V6;
    public uint Port;
}

[StructLayout(LayoutKind.Sequential, Size = 56)]
public unsafe struct KmeshService
{
    public uint ServiceId;
    public uint Mode;
    public fixed uint Counts[12];
}

[StructLayout(LayoutKind.Sequential, Size = 12)]
public struct KmeshEndpointKey
{
    public uint ServiceId;
    public uint Priority;
    public uint Index;
}

[StructLayout(LayoutKind.Sequential, Size = 24)]
public unsafe struct KmeshBackend
{
    public fixed byte Addr[16];
    public uint V6;
    public uint Port;
}

[StructLayout(LayoutKind.Sequential, Size = 24)]
public unsafe struct KmeshTableState
{
    public uint Entries;
    public uint Reserved;
    public fixed byte Hash[16];
}

[StructLayout(LayoutKind.Sequential, Size = 584)]
public unsafe struct KmeshMeta
{
    public fixed byte AbiHash[32];
    public fixed byte ContentHash[32];
    public uint FormatVersion;
    public uint AbiVersion;
    public ulong Generation;
    public uint State;
    public uint NamesLen;
    public fixed byte NamesHash[16];
    /// <summary>tables[KMESH_IMAGE_TABLES] of struct kmesh_table_state, 24 bytes each.</summary>
    public fixed byte Tables[20 * 24];

    public readonly KmeshTableState Table(int i)
    {
        if ((uint)i >= Layout.ImageTables) throw new ArgumentOutOfRangeException(nameof(i));
        fixed (byte* t = Tables) return ((KmeshTableState*)t)[i];
    }

    public void SetTable(int i, KmeshTableState state)
    {
        if ((uint)i >= Layout.ImageTables) throw new ArgumentOutOfRangeException(nameof(i));
        fixed (byte* t = Tables) ((KmeshTableState*)t)[i] = state;
    }
}

[StructLayout(LayoutKind.Sequential, Size = 320)]
public unsafe struct KmeshStatName
{
    public uint Len;
    public fixed byte Name[316];
}

[StructLayout(LayoutKind.Sequential, Size = 48)]
public unsafe struct KmeshLoaderState
{
    public fixed byte AbiHash[32];
    public ulong Quiesced;
    public ulong Reserved;
}

/// <summary>struct kmesh_scratch: only the offsets userspace reads (checked against the BTF).</summary>
public static class KmeshScratch
{
    public const int DstOffset = 16, VerdictOffset = 48, PolicyIdOffset = 52, GenOffset = 56;
    public const int Size = 72 + 3 * (int)(Layout.MaxMatches / 64) * 8;
}
