using System.Text;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Lowering;

/// <summary>The decision classes of an image's sources with identity (km_identities cls), each with a
/// representative address per family and the tests of the image it passes, and the class part of a
/// decision table: one decision per class, by the stage walk of the representative (every address of
/// a class passes the same identity and source-address tests, so it decides alike).</summary>
internal sealed class SourceClasses
{
    /// <summary>A test a class may pass: an address set tested on the source (kind 0) or an identity
    /// set tested on the identity id (1) or the namespace id (2).</summary>
    private static long Test(uint set, int kind) => ((long)set << 2) | (uint)kind;

    private sealed record Class(uint Cls, IpAddr Rep, KmeshIdentity Identity, long[] Passes);

    private readonly List<Class>[] _byFamily = [[], []];

    /// <summary>The representative of every class and family: its lowest address.</summary>
    public static SortedDictionary<(bool V6, uint Cls), (IpAddr Address, KmeshIdentity Identity)> Representatives(IReadOnlyDictionary<IpAddr, KmeshIdentity> identities)
    {
        var r = new SortedDictionary<(bool V6, uint Cls), (IpAddr Address, KmeshIdentity Identity)>();
        foreach (var (a, id) in identities)
            if (!r.TryGetValue((a.IsV6, id.Cls), out var x) || a.CompareTo(x.Address) < 0) r[(a.IsV6, id.Cls)] = (a, id);
        return r;
    }

    /// <summary>The classes of an image, read from its tables.</summary>
    public SourceClasses(ImageTables t) : this(Representatives(t.Identities),
        t.IdSets.Select(kv => (kv.Key, (IReadOnlyList<uint>)kv.Value)),
        LiveSourceSets(t).Select(s => (s, (IEnumerable<IpPrefix>)(t.AddrSets.GetValueOrDefault(s) ?? []))))
    {
    }

    private static SortedSet<uint> LiveSourceSets(ImageTables t)
    {
        var srcSets = new SortedSet<uint>();
        foreach (var m in t.Matches)
            if ((m.Flags & Layout.MatchNever) == 0)
            {
                if (m.SrcSet != 0) srcSets.Add(m.SrcSet);
                if (m.NotSrcSet != 0) srcSets.Add(m.NotSrcSet);
            }
        return srcSets;
    }

    /// <summary>The classes from what the compiler has in hand (<see cref="IdentityTable"/>): the
    /// representatives, the identity sets (id, members) and the live source-address sets (id,
    /// prefixes) — the same sets the image's km_id_sets, km_matches and km_addr_sets hold.</summary>
    public SourceClasses(SortedDictionary<(bool V6, uint Cls), (IpAddr Address, KmeshIdentity Identity)> reps,
        IEnumerable<(uint Set, IReadOnlyList<uint> Members)> idSets, IEnumerable<(uint Set, IEnumerable<IpPrefix> Prefixes)> srcSets)
    {
        if (reps.Count == 0) return;
        // Which identity-set tests each identity and namespace id passes (both kinds for every set:
        // a match says which kind it uses).
        var byId = new Dictionary<uint, List<long>>();
        var byNs = new Dictionary<uint, List<long>>();
        foreach (var (set, members) in idSets)
            foreach (var member in members)
            {
                if (member == 0) continue;
                (byId.TryGetValue(member, out var a) ? a : byId[member] = []).Add(Test(set, 1));
                (byNs.TryGetValue(member, out var b) ? b : byNs[member] = []).Add(Test(set, 2));
            }
        var sources = srcSets.OrderBy(x => x.Set).Select(x => (x.Set, Prefixes: x.Prefixes.ToList())).ToList();
        foreach (var ((v6, cls), (rep, identity)) in reps)
        {
            var passes = new List<long>();
            passes.AddRange(byId.GetValueOrDefault(identity.Id) ?? []);
            passes.AddRange(byNs.GetValueOrDefault(identity.Ns) ?? []);
            foreach (var (s, prefixes) in sources)
                if (prefixes.Any(p => p.Contains(rep))) passes.Add(Test(s, 0));
            passes.Sort();
            _byFamily[v6 ? 1 : 0].Add(new Class(cls, rep, identity, [.. passes]));
        }
    }

    /// <summary>The class entries of one destination and port of an eval: class 0 holds the decision
    /// of every class not listed (class 0's own when the family has it, else the most common one),
    /// then every class that decides otherwise. <paramref name="decided"/> counts the rows walked.</summary>
    public List<DecisionRegion> Decide(ImageTables t, ImageInterpreter interp, in KmeshEval eval,
        IReadOnlyList<(uint Id, KmeshMatch Row)> matches, bool v6, IpAddr dst, uint port, out long decided,
        Dictionary<(IpAddr? Dst, uint Port, bool Known), PartitionEvaluator>? evaluators = null, IpAddr? dstKey = null)
    {
        decided = 0;
        var result = new List<DecisionRegion>();
        var classes = _byFamily[v6 ? 1 : 0];
        if (classes.Count == 0) return result;
        // Tests that do not depend on the source, decided once; the source tests of the live matches.
        if (evaluators?.GetValueOrDefault((dstKey, port, true)) is not { } fast)
        {
            var pre = new Dictionary<uint, bool>();
            foreach (var (id, m) in matches)
                pre[id] = DecisionTables.PassesBeforeSource(t, m, dst, port);
            fast = new PartitionEvaluator(t, interp.MaxStageSteps, eval, (id, m) =>
                !pre.GetValueOrDefault(id) ? false : m.SrcSet == 0 && m.NotSrcSet == 0 && m.IdSet == 0 ? true : null);
            decided += fast.BuildRows;
            if (evaluators is not null) evaluators[(dstKey, port, true)] = fast;
        }
        // The source tests that can still change the verdict here; classes that pass the same ones
        // decide alike: one decision per projection.
        var tests = new HashSet<long>();
        foreach (var (_, m) in fast.Dependent)
        {
            if (m.SrcSet != 0) tests.Add(Test(m.SrcSet, 0));
            if (m.NotSrcSet != 0) tests.Add(Test(m.NotSrcSet, 0));
            if (m.IdSet != 0) tests.Add(Test(m.IdSet, (m.Flags & Layout.MatchIdByNs) != 0 ? 2 : 1));
        }
        var byProjection = new Dictionary<string, int>(StringComparer.Ordinal);
        var groupValue = new List<KmeshDecision>();
        var groupBytes = new List<string>();
        var classGroup = new int[classes.Count];
        var sb = new StringBuilder();
        for (int i = 0; i < classes.Count; i++)
        {
            var c = classes[i];
            // Most classes pass none of this eval's tests: one key, no string built.
            string key = "";
            foreach (var x in c.Passes)
                if (tests.Contains(x))
                {
                    sb.Clear();
                    foreach (var y in c.Passes) if (tests.Contains(y)) sb.Append(y).Append(',');
                    key = sb.ToString();
                    break;
                }
            if (!byProjection.TryGetValue(key, out int g))
            {
                var passing = c.Passes.Where(tests.Contains).ToHashSet();
                var verdict = fast.Decide((id, m) =>
                    (m.SrcSet == 0 || passing.Contains(Test(m.SrcSet, 0)))
                    && (m.NotSrcSet == 0 || !passing.Contains(Test(m.NotSrcSet, 0)))
                    && (m.IdSet == 0 || passing.Contains(Test(m.IdSet, (m.Flags & Layout.MatchIdByNs) != 0 ? 2 : 1)) != ((m.Flags & Layout.MatchIdNegate) != 0)));
                decided += fast.RowsPerDecision;
                var v = DecisionTable.Encode(verdict, pid => ImageTables.At(t.Policies, pid) is { } p && (p.Flags & Layout.PolicyDryRun) != 0);
                g = groupValue.Count;
                groupValue.Add(v);
                groupBytes.Add(Convert.ToHexString(Rows.Bytes(v)));
                byProjection[key] = g;
            }
            classGroup[i] = g;
        }
        int def = classes.FindIndex(c => c.Cls == 0);
        if (def < 0)
        {
            // The most common decision, the first class holding it on a tie.
            var counts = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (int g in classGroup) counts[groupBytes[g]] = counts.GetValueOrDefault(groupBytes[g]) + 1;
            def = 0;
            for (int i = 1; i < classes.Count; i++)
                if (counts[groupBytes[classGroup[i]]] > counts[groupBytes[classGroup[def]]]) def = i;
        }
        string defBytes = groupBytes[classGroup[def]];
        var zero = new IpPrefix(new IpAddr(0, v6), 0);
        var defaultValue = groupValue[classGroup[def]];
        for (int i = 0; i < classes.Count; i++)
            if (classes[i].Cls != 0 && groupBytes[classGroup[i]] != defBytes)
            {
                result.Add(new DecisionRegion(zero, classes[i].Cls, groupValue[classGroup[i]]));
                defaultValue.ClassBloom |= 1UL << (int)(classes[i].Cls & 63);
            }
        result.Insert(0, new DecisionRegion(zero, 0, defaultValue));
        return result;
    }
}
