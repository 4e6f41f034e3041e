using System.Collections.Immutable;
using KmeshCompiler.Ir;
using KmeshCompiler.Lowering;

namespace KmeshCompiler.Image;

/// <summary>One entry of km_decisions: local workload address, port (KMESH_DECISION_OTHER_PORT for
/// the ports the address's table does not tell apart), the sources it answers for — a source prefix
/// (sources without identity) or a decision class (<see cref="Class"/> set: sources with identity;
/// Src is then the family's /0) — and the decision.</summary>
public sealed record DecisionEntry(IpAddr Dst, uint Port, IpPrefix Src, uint? Class, KmeshDecision Value)
{
    public bool V6 => Dst.IsV6;
}

/// <summary>The decision table of an image (km_decisions and km_decision_idx), decoded, with the
/// probing lookup the entry program makes.</summary>
public sealed unsafe class DecisionTable
{
    /// <summary>By (destination, port, source network, length, class); class entries have length -1.</summary>
    private readonly Dictionary<(IpAddr Dst, uint Port, UInt128 Src, int Len, uint Cls), KmeshDecision> _map = new();

    /// <summary>Entries in key order (destination, port, source prefix).</summary>
    public ImmutableArray<DecisionEntry> Entries { get; }

    private readonly KmeshDecisionIndex _index;
    private readonly List<int>[] _lengths;

    /// <summary>What the entry probes: lengths per family, the ports keyed by port, the local-address
    /// filter (16 KB: returned by reference).</summary>
    public ref readonly KmeshDecisionIndex Index => ref _index;

    private readonly Func<uint, uint, bool> _inPortSet;

    /// <param name="inPortSet">km_port_sets membership (set, port): for the stage ports of other-ports entries.</param>
    public DecisionTable(IEnumerable<ImageEntry> entries, KmeshDecisionIndex? index, Func<uint, uint, bool> inPortSet)
    {
        _inPortSet = inPortSet;
        var list = new List<DecisionEntry>();
        foreach (var e in entries)
        {
            var d = Decode(Rows.Read<KmeshDecisionKey>(e.Key), Rows.Read<KmeshDecision>(e.Value));
            list.Add(d);
            _map[(d.Dst, d.Port, d.Class is null ? d.Src.Network.Value : 0, d.Class is null ? d.Src.Length : -1, d.Class ?? 0)] = d.Value;
        }
        Entries = [.. list.OrderBy(d => d.Dst).ThenBy(d => d.Port).ThenBy(d => d.Class.HasValue).ThenBy(d => d.Class).ThenBy(d => d.Src)];
        // An array map always has its entry: all zero when the image did not write it.
        _index = index ?? default;
        _lengths = [_index.LengthsOf(false), _index.LengthsOf(true)];
    }

    public int Count => _map.Count;

    /// <summary>The entry program's lookup: port keyed when its bit is set; for a source with an
    /// identity class 0, then its class when class 0's bloom bit for it is set; for one without, one hash lookup per length of the family
    /// (longest first) with the source masked to it; when the port's bit is set and nothing hits, the
    /// same with KMESH_DECISION_OTHER_PORT. The first hit.
    /// An other-ports entry whose stage ports hold the SYN's port does not answer (null: the stages).</summary>
    public KmeshDecision? Lookup(IpAddr dst, uint port, IpAddr src, KmeshIdentity identity)
    {
        bool byPort = _index.HasPort(port);
        uint first = byPort ? port & 0xffff : Layout.DecisionOtherPort;
        var lengths = _lengths[dst.IsV6 ? 1 : 0];
        KmeshDecision? At(uint key) => identity.Id != 0 ? ProbeClass(dst, key, identity.Cls) : Probe(dst, key, src, lengths);
        if (byPort && At(first) is { } keyed) return keyed;
        if (At(Layout.DecisionOtherPort) is not { } d) return null;
        if ((d.Flags & Layout.DecisionStages) == 0 && d.StagePorts != 0 && _inPortSet(d.StagePorts, port & 0xffff)) return null;
        return d;
    }

    private KmeshDecision? ProbeClass(IpAddr dst, uint port, uint cls)
    {
        if (!_map.TryGetValue((dst, port, 0, -1, 0), out var d0)) return null;
        if (cls == 0 || ((d0.ClassBloom >> (int)(cls & 63)) & 1) == 0) return d0;
        return _map.TryGetValue((dst, port, 0, -1, cls), out var v) ? v : d0;
    }

    private KmeshDecision? Probe(IpAddr dst, uint port, IpAddr src, List<int> lengths)
    {
        foreach (int len in lengths)
            if (len <= src.Bits && _map.TryGetValue((dst, port, new IpPrefix(src, len).Network.Value, len, 0), out var v)) return v;
        return null;
    }

    /// <summary>The verdict the entry program returns for a decision, or null when it takes the
    /// stages (KMESH_DECISION_STAGES, or a value it does not accept).</summary>
    public static KernelVerdict? Verdict(KmeshDecision d)
    {
        if ((d.Flags & Layout.DecisionStages) != 0 || d.Verdict > Layout.VerdictDenyNoneAllow || d.Count > Layout.DecisionMaxMatched)
            return null;
        var matched = ImmutableArray.CreateBuilder<uint>();
        for (int i = 0; i < d.Count; i++) matched.Add(d.Matched[i] & ~Layout.DecisionDryRun);
        bool pass = d.Verdict is Layout.VerdictAllowPolicy or Layout.VerdictAllowNoAllow;
        return new KernelVerdict(pass ? KernelAction.Pass : KernelAction.Drop, d.Verdict,
            d.PolicyId == uint.MaxValue ? null : d.PolicyId, matched.ToImmutable(), 0, 0);
    }

    public static KmeshDecisionKey Key(IpAddr dst, uint port, IpPrefix src)
    {
        var k = new KmeshDecisionKey { SrcLen = (uint)src.Length, Port = port, Dst = Rows.IpKey(dst) };
        Rows.PutAddress(k.Src, src.Network);
        return k;
    }

    /// <summary>The key of a class entry (sources with identity).</summary>
    public static KmeshDecisionKey ClassKey(IpAddr dst, uint port, uint cls) =>
        new() { SrcLen = Layout.DecisionClass, Port = port, Dst = Rows.IpKey(dst), Cls = cls };

    public static DecisionEntry Decode(in KmeshDecisionKey k, in KmeshDecision v)
    {
        fixed (byte* sp = k.Src)
        {
            var dst = Rows.Address(k.Dst);
            if (k.SrcLen == Layout.DecisionClass)
                return new DecisionEntry(dst, k.Port, new IpPrefix(new IpAddr(0, dst.IsV6), 0), k.Cls, v);
            var src = Rows.GetAddress(sp, k.Dst.V6);
            return new DecisionEntry(dst, k.Port, new IpPrefix(src, Math.Clamp((int)k.SrcLen, 0, src.Bits)), null, v);
        }
    }

    /// <summary>The value for a verdict of the stages; KMESH_DECISION_STAGES when the region must stay
    /// with the stages (an error, or more matched policies than a value holds).</summary>
    public static KmeshDecision Encode(KernelVerdict v, Func<uint, bool> dryRun)
    {
        var d = new KmeshDecision { Verdict = v.Verdict, PolicyId = v.Policy ?? uint.MaxValue };
        if (v.Error is not null || v.Verdict > Layout.VerdictDenyNoneAllow || v.PolicyMatched.Length > Layout.DecisionMaxMatched)
            return Stages;
        d.Count = (uint)v.PolicyMatched.Length;
        for (int i = 0; i < v.PolicyMatched.Length; i++)
            d.Matched[i] = v.PolicyMatched[i] | (dryRun(v.PolicyMatched[i]) ? Layout.DecisionDryRun : 0);
        return d;
    }

    /// <summary>A region left to the stages.</summary>
    public static KmeshDecision Stages => new() { Verdict = Layout.VerdictError, PolicyId = uint.MaxValue, Flags = Layout.DecisionStages };
}

/// <summary>How much of an image the decision table decides: of the evals the local workloads use
/// (by default or through the port index), those whose every (address, port) is in the table and
/// not left to the stages.</summary>
public sealed record DecisionCoverage(int Evals, int Covered)
{
    public double Percent => Evals == 0 ? 100 : 100.0 * Covered / Evals;

    public static DecisionCoverage Of(ImageTables t)
    {
        var decided = new HashSet<(IpAddr, uint)>();
        var stages = new HashSet<(IpAddr, uint)>();
        foreach (var e in t.Decisions.Entries)
            ((e.Value.Flags & Layout.DecisionStages) != 0 ? stages : decided).Add((e.Dst, e.Port));
        var used = new Dictionary<uint, bool>();
        void Use(uint eval, IpAddr a, uint port) =>
            used[eval] = used.GetValueOrDefault(eval, true) && decided.Contains((a, port)) && !stages.Contains((a, port));
        var byWorkload = t.PortIndex.GroupBy(kv => kv.Key.Workload).ToDictionary(g => g.Key, g => g.ToList());
        foreach (var (a, w) in t.Workloads)
        {
            Use(w.EvalId, a, Layout.DecisionOtherPort);
            foreach (var ((_, port), eval) in byWorkload.GetValueOrDefault(w.WorkloadId) ?? []) Use(eval, a, port);
        }
        return new DecisionCoverage(used.Count, used.Count(kv => kv.Value));
    }
}
