using System.Net;
using System.Runtime.InteropServices;
using KmeshCompiler.Loader.DataPlane;
using KmeshCompiler.Lowering;

namespace KmeshCompiler.Tests.Kernel;

/// <summary>Tables written by hand in the layout of bpf/kmesh_tables.h, to test the programs apart
/// from the compiler (the odd corners the compiler may never produce, broken rows, budgets).</summary>
public sealed class HandTables
{
    private readonly List<(byte[], byte[])> _workloads = [], _portIndex = [], _addrSets = [], _portSets = [];
    private readonly List<KmeshEval> _evals = [];
    private readonly List<uint> _lists = [];
    private readonly List<KmeshPolicy> _policies = [];
    private readonly List<KmeshRange> _rules = [], _clauses = [];
    private readonly List<KmeshMatch> _matches = [];
    private uint _nextSet = 1;

    public static byte[] Bytes<T>(T v) where T : unmanaged => MemoryMarshal.AsBytes(new ReadOnlySpan<T>(ref v)).ToArray();

    public (uint First, uint Count) List(params uint[] ids)
    {
        uint first = (uint)_lists.Count;
        _lists.AddRange(ids);
        return (first, (uint)ids.Length);
    }

    public uint Match(KmeshMatch m) { _matches.Add(m); return (uint)_matches.Count - 1; }

    public uint Clause(params uint[] matchIds)
    {
        var (f, c) = List(matchIds);
        _clauses.Add(new KmeshRange { First = f, Count = c });
        return (uint)_clauses.Count - 1;
    }

    public uint Rule(params uint[] clauseIds)
    {
        var (f, c) = List(clauseIds);
        _rules.Add(new KmeshRange { First = f, Count = c });
        return (uint)_rules.Count - 1;
    }

    public uint Policy(uint action, bool dryRun, params uint[] ruleIds)
    {
        var (f, c) = List(ruleIds);
        _policies.Add(new KmeshPolicy { RulesFirst = f, RulesCount = c, Action = action, Flags = dryRun ? Layout.PolicyDryRun : 0 });
        return (uint)_policies.Count - 1;
    }

    /// <summary>An eval over the given policies, listing every row they reach (as the compiler does).</summary>
    public uint Eval(bool hasAllow, params uint[] policyIds)
    {
        var rules = policyIds.SelectMany(p => Members(_policies[(int)p].RulesFirst, _policies[(int)p].RulesCount)).Distinct().Order().ToArray();
        var clauses = rules.SelectMany(r => Members(_rules[(int)r].First, _rules[(int)r].Count)).Distinct().Order().ToArray();
        var matches = clauses.SelectMany(c => Members(_clauses[(int)c].First, _clauses[(int)c].Count)).Distinct().Order().ToArray();
        return RawEval(hasAllow, matches, clauses, rules, policyIds);
    }

    public uint RawEval(bool hasAllow, uint[] matches, uint[] clauses, uint[] rules, uint[] policies, uint? matchCountOverride = null)
    {
        var m = List(matches); var c = List(clauses); var r = List(rules); var p = List(policies);
        _evals.Add(new KmeshEval
        {
            Flags = hasAllow ? Layout.EvalHasAllow : 0,
            MatchFirst = m.First, MatchCount = matchCountOverride ?? m.Count,
            ClauseFirst = c.First, ClauseCount = c.Count,
            RuleFirst = r.First, RuleCount = r.Count,
            PolicyFirst = p.First, PolicyCount = p.Count,
        });
        return (uint)_evals.Count - 1;
    }

    private IEnumerable<uint> Members(uint first, uint count) => _lists.Skip((int)first).Take((int)count);

    public void Workload(IPAddress addr, uint workloadId, uint evalId)
    {
        var b = addr.GetAddressBytes();
        var k = new byte[20];
        b.CopyTo(k, 0);
        k[16] = b.Length == 16 ? (byte)1 : (byte)0;
        _workloads.Add((k, Bytes(new KmeshWorkload { WorkloadId = workloadId, EvalId = evalId })));
    }

    public void PortEval(uint workloadId, uint port, uint evalId) =>
        _portIndex.Add((Bytes(new KmeshPortKey { Id = workloadId, Port = port }), Bytes(evalId)));

    /// <summary>A new address set holding the given prefixes ("10.0.0.0/8", "fd00::/16").</summary>
    public uint AddrSet(params string[] prefixes)
    {
        uint id = _nextSet++;
        foreach (var p in prefixes)
        {
            var parts = p.Split('/');
            var b = IPAddress.Parse(parts[0]).GetAddressBytes();
            int len = parts.Length > 1 ? int.Parse(parts[1]) : b.Length * 8;
            var k = new byte[24];
            BitConverter.TryWriteBytes(k.AsSpan(0), (uint)(32 + len));
            BitConverter.TryWriteBytes(k.AsSpan(4), Layout.SetFam(id, b.Length == 16));
            b.CopyTo(k, 8);
            _addrSets.Add((k, Bytes(id)));
        }
        return id;
    }

    public uint PortSet(params uint[] ports)
    {
        uint id = _nextSet++;
        foreach (var p in ports) _portSets.Add((Bytes(new KmeshPortKey { Id = id, Port = p }), Bytes(id)));
        return id;
    }

    private static MapContent Array<T>(string name, List<T> rows) where T : unmanaged =>
        new(name, 4, System.Runtime.CompilerServices.Unsafe.SizeOf<T>(), rows.Select((r, i) => (Bytes((uint)i), Bytes(r))).ToList());

    public IEnumerable<MapContent> Contents() =>
    [
        new(Layout.MapWorkloads, 20, 8, _workloads),
        new(Layout.MapPortIndex, 8, 4, _portIndex),
        Array(Layout.MapEvals, _evals),
        Array(Layout.MapLists, _lists),
        Array(Layout.MapPolicies, _policies),
        Array(Layout.MapRules, _rules),
        Array(Layout.MapClauses, _clauses),
        Array(Layout.MapMatches, _matches),
        new(Layout.MapAddrSets, 24, 4, _addrSets),
        new(Layout.MapPortSets, 8, 4, _portSets),
    ];
}
