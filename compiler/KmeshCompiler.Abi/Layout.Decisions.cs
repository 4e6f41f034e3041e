using System.Runtime.InteropServices;

namespace KmeshCompiler.Abi;

// The decision table of bpf/kmesh_tables.h (km_decisions, km_decision_idx), mirrored.

public static partial class Layout
{
    public const string MapDecisions = "km_decisions";
    public const string MapDecisionIndex = "km_decision_idx";
    public const uint MaxDecisions = 262144;
    public const uint MaxEvalDecisions = 4096;
    public const uint MaxDecisionIndex = 1;
    public const int DecisionMaxLengths = 8;
    public const byte DecisionNoLength = 0xff;
    public const int DecisionPortWords = 1024;
    public const uint DecisionOtherPort = 0xffffffff;
    /// <summary>KMESH_DECISION_CLASS: the src_len of an entry keyed by decision class.</summary>
    public const uint DecisionClass = 0xffff;
    public const int DecisionMaxMatched = 6;
    public const uint DecisionDryRun = 0x80000000;
    public const uint DecisionStages = 0x1;
    public const uint IndexLocalFilter = 0x1;
}

[StructLayout(LayoutKind.Sequential, Size = 48)]
public unsafe struct KmeshDecisionKey
{
    public uint SrcLen;
    public uint Port;
    public KmeshIpKey Dst;
    public fixed byte Src[16];
    public uint Cls;
}

[StructLayout(LayoutKind.Sequential, Size = 56)]
public unsafe struct KmeshDecision
{
    public uint Verdict;
    public uint PolicyId;
    public uint Flags;
    public uint Count;
    public fixed uint Matched[6];
    /// <summary>Other-ports entries: a km_port_sets set of ports this entry must leave to the stages (0: none).</summary>
    public uint StagePorts;
    public uint Reserved;
    /// <summary>Class-0 entries: bit (c % 64) for every class c with an entry of its own here.</summary>
    public ulong ClassBloom;
}

[StructLayout(LayoutKind.Sequential, Size = 16408)]
public unsafe struct KmeshDecisionIndex
{
    public uint Flags;
    /// <summary>lengths[2][KMESH_DECISION_MAX_LENGTHS]: IPv4 then IPv6, longest first.</summary>
    public fixed byte Lengths[16];
    public uint Reserved;
    public fixed ulong Ports[1024];
    /// <summary>Bit h for every local workload address, h = its last two bytes.</summary>
    public fixed ulong Local[1024];

    /// <summary>The local-filter bit of an address (its value as a big-endian integer): its last two bytes.</summary>
    public static int LocalBit(UInt128 address) => (int)(address & 0xffff);

    public readonly int LocalBitsSet()
    {
        int n = 0;
        for (int w = 0; w < Layout.DecisionPortWords; w++) n += System.Numerics.BitOperations.PopCount(Local[w]);
        return n;
    }

    /// <summary>False when the filter rules the address out as a local workload.</summary>
    public readonly bool MayBeLocal(UInt128 address)
    {
        if ((Flags & Layout.IndexLocalFilter) == 0) return true;
        int h = LocalBit(address);
        return ((Local[h >> 6] >> (h & 63)) & 1) != 0;
    }

    /// <summary>The source prefix lengths probed for a family, longest first.</summary>
    public readonly List<int> LengthsOf(bool v6)
    {
        var l = new List<int>();
        for (int i = 0; i < Layout.DecisionMaxLengths; i++)
        {
            int len = Lengths[(v6 ? Layout.DecisionMaxLengths : 0) + i];
            if (len > 128) break;
            l.Add(len);
        }
        return l;
    }

    public readonly bool HasPort(uint port) => ((Ports[(int)((port & 0xffff) >> 6)] >> (int)(port & 63)) & 1) != 0;

    /// <summary>The index of a table: its lengths per family (longest first) and its keyed ports.</summary>
    public static KmeshDecisionIndex For(IReadOnlyList<int> v4, IReadOnlyList<int> v6, IEnumerable<uint> ports, IEnumerable<UInt128> local)
    {
        var ix = new KmeshDecisionIndex { Flags = Layout.IndexLocalFilter };
        foreach (var a in local)
        {
            int h = LocalBit(a);
            ix.Local[h >> 6] |= 1UL << (h & 63);
        }
        for (int i = 0; i < Layout.DecisionMaxLengths; i++)
        {
            ix.Lengths[i] = i < v4.Count ? (byte)v4[i] : Layout.DecisionNoLength;
            ix.Lengths[Layout.DecisionMaxLengths + i] = i < v6.Count ? (byte)v6[i] : Layout.DecisionNoLength;
        }
        // A SYN's port is 16 bits: a larger port is never probed, and its bit would fall outside the map.
        foreach (uint p in ports) if (p <= 0xffff) ix.Ports[(int)(p >> 6)] |= 1UL << (int)(p & 63);
        return ix;
    }
}
