using System.Collections.Immutable;
using KmeshCompiler.Ir;
using KmeshCompiler.Lowering;

namespace KmeshCompiler.Image;

/// <summary>One entry of km_decisions: eval, family, port (0 when the eval's table is not keyed by
/// port, KMESH_DECISION_OTHER_PORT for the ports it does not tell apart), destination (null when
/// not keyed by destination), source prefix, and the decision.</summary>
public sealed record DecisionEntry(uint EvalId, bool V6, uint Port, IpAddr? Dst, IpPrefix Src, KmeshDecision Value);

/// <summary>The decision table of an image (km_decisions), decoded, with the longest-prefix lookup
/// the entry program makes.</summary>
public sealed unsafe class DecisionTable
{
    private readonly Dictionary<(uint Eval, bool V6, uint Port, UInt128 Dst, UInt128 Src, int Len), KmeshDecision> _lpm = new();

    /// <summary>Entries in key order (eval, family, destination, source prefix).</summary>
    public ImmutableArray<DecisionEntry> Entries { get; }

    public DecisionTable(IEnumerable<ImageEntry> entries)
    {
        var list = new List<DecisionEntry>();
        foreach (var e in entries)
        {
            var d = Decode(Rows.Read<KmeshDecisionKey>(e.Key), Rows.Read<KmeshDecision>(e.Value));
            list.Add(d);
            _lpm[(d.EvalId, d.V6, d.Port, d.Dst?.Value ?? 0, d.Src.Network.Value, d.Src.Length)] = d.Value;
        }
        Entries = [.. list.OrderBy(d => d.EvalId).ThenBy(d => d.V6).ThenBy(d => d.Port).ThenBy(d => d.Dst?.Value ?? 0).ThenBy(d => d.Src)];
    }

    public int Count => _lpm.Count;

    /// <summary>bpf_map_lookup_elem on the trie with the packet's key: the longest stored source
    /// prefix for (eval, family, destination or zero).</summary>
    public KmeshDecision? Lookup(uint evalId, uint port, IpAddr? dst, IpAddr src)
    {
        UInt128 d = dst?.Value ?? 0;
        for (int len = src.Bits; len >= 0; len--)
            if (_lpm.TryGetValue((evalId, src.IsV6, port, d, new IpPrefix(src, len).Network.Value, len), out var v)) return v;
        return null;
    }

    /// <summary>The verdict the entry program returns for a decision, or null when it takes the
    /// stages (KMESH_DECISION_STAGES, or a value it does not accept).</summary>
    public static KernelVerdict? Verdict(KmeshDecision d)
    {
        if ((d.Flags & Layout.DecisionStages) != 0 || d.Verdict > ImageInterpreter.VerdictDenyNoneAllow || d.Count > Layout.DecisionMaxMatched)
            return null;
        var matched = ImmutableArray.CreateBuilder<uint>();
        for (int i = 0; i < d.Count; i++) matched.Add(d.Matched[i] & ~Layout.DecisionDryRun);
        bool pass = d.Verdict is ImageInterpreter.VerdictAllowPolicy or ImageInterpreter.VerdictAllowNoAllow;
        return new KernelVerdict(pass ? KernelAction.Pass : KernelAction.Drop, d.Verdict,
            d.PolicyId == uint.MaxValue ? null : d.PolicyId, matched.ToImmutable(), 0, 0);
    }

    public static KmeshDecisionKey Key(uint evalId, uint port, IpAddr? dst, IpPrefix src)
    {
        var k = new KmeshDecisionKey { Prefixlen = Layout.DecisionFixedBits + (uint)src.Length, EvalId = evalId, V6 = src.Address.IsV6 ? 1u : 0u, Port = port };
        if (dst is { } a) Rows.PutAddress(k.Dst, a);
        Rows.PutAddress(k.Src, src.Network);
        return k;
    }

    public static DecisionEntry Decode(in KmeshDecisionKey k, in KmeshDecision v)
    {
        fixed (byte* dp = k.Dst)
        fixed (byte* sp = k.Src)
        {
            var dst = Rows.GetAddress(dp, k.V6);
            var src = Rows.GetAddress(sp, k.V6);
            int len = (int)k.Prefixlen - (int)Layout.DecisionFixedBits;
            return new DecisionEntry(k.EvalId, k.V6 != 0, k.Port, dst.Value == 0 ? null : dst, new IpPrefix(src, Math.Clamp(len, 0, src.Bits)), v);
        }
    }

    /// <summary>The value for a verdict of the stages; KMESH_DECISION_STAGES when the region must stay
    /// with the stages (an error, or more matched policies than a value holds).</summary>
    public static KmeshDecision Encode(KernelVerdict v, Func<uint, bool> dryRun)
    {
        var d = new KmeshDecision { Verdict = v.Verdict, PolicyId = v.Policy ?? uint.MaxValue };
        if (v.Error is not null || v.Verdict > ImageInterpreter.VerdictDenyNoneAllow || v.PolicyMatched.Length > Layout.DecisionMaxMatched)
            return new KmeshDecision { Verdict = ImageInterpreter.VerdictError, PolicyId = uint.MaxValue, Flags = Layout.DecisionStages };
        d.Count = (uint)v.PolicyMatched.Length;
        for (int i = 0; i < v.PolicyMatched.Length; i++)
            d.Matched[i] = v.PolicyMatched[i] | (dryRun(v.PolicyMatched[i]) ? Layout.DecisionDryRun : 0);
        return d;
    }
}
