using System.Collections.Immutable;
using System.Globalization;
using KmeshCompiler.Ir;
using KmeshCompiler.Semantics;

namespace KmeshCompiler.Diff;

/// <summary>An inclusive range of addresses of one family.</summary>
public readonly record struct IpRange(IpAddr First, IpAddr Last) : IComparable<IpRange>
{
    public bool Contains(IpAddr a) => a.IsV6 == First.IsV6 && a.CompareTo(First) >= 0 && a.CompareTo(Last) <= 0;

    public int CompareTo(IpRange other) => First.CompareTo(other.First);

    /// <summary>The fewest CIDRs that cover exactly this range, in address order.</summary>
    public IEnumerable<IpPrefix> ToPrefixes()
    {
        int bits = First.Bits;
        UInt128 lo = First.Value, hi = Last.Value;
        while (true)
        {
            // The largest aligned block starting at lo that ends at or before hi.
            int len = bits;
            while (len > 0)
            {
                int size = bits - (len - 1);
                UInt128 mask = size >= 128 ? UInt128.MaxValue : (UInt128.One << size) - 1;
                if ((lo & mask) != 0) break;
                if ((lo | mask) > hi) break;
                len--;
            }
            yield return new IpPrefix(new IpAddr(lo, First.IsV6), len);
            int blockBits = bits - len;
            UInt128 last = blockBits >= 128 ? UInt128.MaxValue : lo | ((UInt128.One << blockBits) - 1);
            if (last >= hi) yield break;
            lo = last + 1;
        }
    }

    public override string ToString() => string.Join(", ", ToPrefixes());
}

/// <summary>An inclusive range of destination ports.</summary>
public readonly record struct PortRange(ushort First, ushort Last)
{
    public bool Contains(ushort p) => p >= First && p <= Last;

    public override string ToString() => First == Last
        ? First.ToString(CultureInfo.InvariantCulture)
        : string.Create(CultureInfo.InvariantCulture, $"{First}-{Last}");
}

/// <summary>A workload address as a source, with the identity each side's world gives it
/// (<see cref="Evaluator.IdentityOf"/>; null: the address belongs to no workload on that side, or to
/// a host-network pod, whose traffic is plaintext from its node's address).</summary>
public sealed record WorkloadSource(IpAddr Address, Identity? Before, Identity? After)
{
    /// <summary>"td/ns/N/sa/S", or "before -> after" when the sides disagree.</summary>
    public string IdentityText =>
        Equals(Before, After) ? Show(Before) : $"{Show(Before)} -> {Show(After)}";

    private static string Show(Identity? id) => id?.ToString() ?? "no identity";
}

/// <summary>The sources of one change. <see cref="AnyAddress"/>: every address in these ranges,
/// whatever identity it has. <see cref="Outside"/>: the addresses in these ranges that belong to no
/// workload on either side (no identity: outside the mesh). <see cref="Workloads"/>: single workload
/// addresses, with their identities. The three never overlap.</summary>
public sealed record DiffSources(ImmutableArray<IpRange> AnyAddress, ImmutableArray<IpRange> Outside, ImmutableArray<WorkloadSource> Workloads)
{
    public bool Contains(IpAddr source, bool isWorkloadAddress)
    {
        foreach (var r in AnyAddress) if (r.Contains(source)) return true;
        if (!isWorkloadAddress)
        {
            foreach (var r in Outside) if (r.Contains(source)) return true;
            return false;
        }
        foreach (var w in Workloads) if (w.Address == source) return true;
        return false;
    }

    /// <summary>True when some address without identity is among the sources (traffic from outside
    /// the mesh).</summary>
    public bool FromOutside => !AnyAddress.IsEmpty || !Outside.IsEmpty;

    private string? _key;

    /// <summary>A canonical text for grouping equal source sets (computed once: a source set may
    /// hold many thousands of workload addresses).</summary>
    internal string Key => _key ??=
        string.Join(',', AnyAddress.Select(r => $"{r.First}-{r.Last}")) + "|" +
        string.Join(',', Outside.Select(r => $"{r.First}-{r.Last}")) + "|" +
        string.Join(',', Workloads.Select(w => w.Address.ToString()));
}

/// <summary>A destination address and the workload owning it on each side.</summary>
public sealed record DiffDestination(IpAddr Address, Workload? Before, Workload? After)
{
    /// <summary>"namespace/name" of the workload (the new side's when both exist), else the address.</summary>
    public string Name => (After ?? Before)?.Key ?? Address.ToString();
}

/// <summary>One side's decision of a region: the decision, the reason, and the policies responsible
/// for it (the deciding DENY or ALLOW; for "none allowed", the enforced ALLOW policies that exist).</summary>
public sealed record SideDecision(Decision Decision, string Reason, ImmutableArray<Policy> Policies)
{
    internal string Key => $"{Decision}|{Reason}|{string.Join(',', Policies.Select(p => p.Key))}";
}

/// <summary>A set of connections whose decision differs: every (source in <see cref="Sources"/>,
/// destination address in <see cref="Destinations"/>, port in <see cref="Ports"/>) goes from
/// <see cref="Before"/> to <see cref="After"/>. <see cref="Responsible"/> is where a reviewer should
/// look: the new side's responsible policies, else the new versions of the old side's (a DENY that
/// no longer matches), else the old side's (a policy removed).</summary>
public sealed record SemanticChange(
    ImmutableArray<DiffDestination> Destinations,
    DiffSources Sources,
    ImmutableArray<PortRange> Ports,
    SideDecision Before,
    SideDecision After,
    ImmutableArray<Policy> Responsible)
{
    public bool NewlyAllowed => After.Decision == Decision.Allow;

    public bool Contains(IpAddr source, bool sourceIsWorkloadAddress, IpAddr destination, ushort port) =>
        Destinations.Any(d => d.Address == destination) && Ports.Any(p => p.Contains(port)) &&
        Sources.Contains(source, sourceIsWorkloadAddress);
}

/// <summary>How much work a diff did: it scales with the change, not with the world.</summary>
public sealed record SemanticDiffStats(
    int ChangedPolicies,
    int ChangedWorkloads,
    int ChangedSourceIdentities,
    int DestinationsExamined,
    int DestinationGroups,
    long Evaluations);

public sealed record SemanticDiffResult(ImmutableArray<SemanticChange> Changes, SemanticDiffStats Stats)
{
    public bool Equal => Changes.IsEmpty;
}
