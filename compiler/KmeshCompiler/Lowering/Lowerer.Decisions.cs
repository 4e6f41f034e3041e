using System.Collections.Immutable;
using System.Diagnostics;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Lowering;

/// <summary>Figures about the decision table of one image.</summary>
public sealed record DecisionStats(int Evals, int EvalsWithTable, int Entries, long RegionsDecided,
    int OverRegionCap, int TooManyPorts, int OverImageCap, TimeSpan Elapsed);

/// <summary>One region of a source partition: the prefix stored in the trie, an address that lies
/// in the prefix and in no longer prefix of the partition, and its decision.</summary>
public sealed record DecisionRegion(IpPrefix Prefix, IpAddr Representative, KmeshDecision Decision);

/// <summary>Builds km_decisions (docs/dataplane-layout.md, "The decision table"): for every eval, the
/// verdict of each region of the source address space, decided once at compile time by the stage
/// walk of <see cref="ImageInterpreter"/> over the image's own tables, so that the table and the
/// stages can never disagree.</summary>
public static class DecisionTables
{
    /// <summary>The image with km_decisions filled and the evals that have a table flagged; with
    /// <paramref name="enabled"/> false, with an empty km_decisions and no eval flagged.</summary>
    public static ImageFile Add(ImageFile image, LoweringLimits limits, bool enabled, out DecisionStats stats)
    {
        var sw = Stopwatch.StartNew();
        var t = new ImageTables(image);
        var evals = (KmeshEval[])t.Evals.Clone();
        for (int i = 0; i < evals.Length; i++)
        {
            evals[i].Flags &= ~(Layout.EvalDecisions | Layout.EvalDecisionsByDst | Layout.EvalDecisionsByPort);
            evals[i].DecisionPorts = 0;
        }
        var portSetEntries = (image.Section(Layout.MapPortSets)?.Entries ?? []).ToList();
        uint nextPortSet = t.PortSets.Count == 0 ? 1 : t.PortSets.Keys.Max() + 1;
        var portSetIds = t.PortSets.ToDictionary(kv => string.Join(",", kv.Value.Order()), kv => kv.Key);
        uint portSetCap = limits.Capacity(Layout.Map(Layout.MapPortSets));
        var entries = new List<ImageEntry>();
        int withTable = 0, overRegion = 0, portDependent = 0, overImage = 0;
        long decided = 0, work = 0;
        if (enabled)
        {
            var interp = new ImageInterpreter(t, limits.MaxStageSteps, fastPath: false);
            var addrsOf = t.Workloads.GroupBy(kv => kv.Value.WorkloadId).ToDictionary(g => g.Key, g => g.Select(kv => kv.Key).ToList());
            var indexPorts = t.PortIndex.Keys.GroupBy(k => k.Workload).ToDictionary(g => g.Key, g => g.Select(k => k.Port).ToHashSet());
            var contexts = new SortedDictionary<uint, List<Context>>();
            void Add(uint eval, Context c)
            {
                if (!contexts.TryGetValue(eval, out var l)) contexts[eval] = l = [];
                l.Add(c);
            }
            foreach (var (a, w) in t.Workloads) Add(w.EvalId, new Context(a, null, w.WorkloadId));
            foreach (var ((wid, port), e) in t.PortIndex)
                foreach (var a in addrsOf.GetValueOrDefault(wid) ?? []) Add(e, new Context(a, port, wid));
            uint imageCap = limits.Capacity(Layout.Map(Layout.MapDecisions));
            foreach (var (evalId, ctxs) in contexts)
            {
                // An eval without policies is decided in the entry already, without a lookup.
                if (evalId >= evals.Length || evals[evalId].PolicyCount == 0) continue;
                if (work >= limits.MaxDecisionWork) { overImage++; continue; }
                var r = ForEval(t, interp, evalId, ctxs, indexPorts, limits, limits.MaxDecisionWork - work);
                decided += r.Decided;
                work += r.Decided * EvalSize(evals[evalId]);
                if (r.Outcome == EvalOutcome.OverRegionCap) { overRegion++; continue; }
                if (r.Outcome == EvalOutcome.TooManyPorts) { portDependent++; continue; }
                if (entries.Count + r.Entries.Count > imageCap) { overImage++; continue; }
                if (r.Ports is { } ports)
                {
                    string key = string.Join(",", ports);
                    if (!portSetIds.TryGetValue(key, out uint set))
                    {
                        if (portSetEntries.Count + ports.Length > portSetCap) { overImage++; continue; }
                        set = portSetIds[key] = nextPortSet++;
                        foreach (var port in ports) portSetEntries.Add(new ImageEntry(Rows.Bytes(new KmeshPortKey { Id = set, Port = port }), Rows.U32(set)));
                    }
                    evals[evalId].DecisionPorts = set;
                    evals[evalId].Flags |= Layout.EvalDecisionsByPort;
                }
                entries.AddRange(r.Entries);
                evals[evalId].Flags |= Layout.EvalDecisions | (r.ByDst ? Layout.EvalDecisionsByDst : 0);
                withTable++;
            }
        }
        var sections = image.Sections.Where(s => s.Name != Layout.MapDecisions).Select(s => s.Name switch
        {
            Layout.MapEvals => ImageSection.For(Layout.Map(Layout.MapEvals), evals.Select((e, i) => new ImageEntry(Rows.U32((uint)i), Rows.Bytes(e)))),
            Layout.MapPortSets => ImageSection.For(Layout.Map(Layout.MapPortSets), portSetEntries),
            _ => s,
        }).ToList();
        if (!sections.Any(s => s.Name == Layout.MapPortSets)) sections.Add(ImageSection.For(Layout.Map(Layout.MapPortSets), portSetEntries));
        sections.Add(ImageSection.For(Layout.Map(Layout.MapDecisions), entries));
        var ordered = Layout.ImageMaps.Select(m => sections.FirstOrDefault(s => s.Name == m.Name)).OfType<ImageSection>().ToImmutableArray();
        stats = new DecisionStats(evals.Length, withTable, entries.Count, decided, overRegion, portDependent, overImage, sw.Elapsed);
        return image with { Sections = ordered };
    }

    private sealed record Context(IpAddr Dst, uint? Port, uint WorkloadId);

    private enum EvalOutcome { Table, OverRegionCap, TooManyPorts }

    private sealed record EvalTable(EvalOutcome Outcome, bool ByDst, uint[]? Ports, List<ImageEntry> Entries, long Decided);

    /// <summary>The rows one stage walk of an eval visits (the unit of the compile-time work budget).</summary>
    private static long EvalSize(in KmeshEval e) => 1L + e.MatchCount + e.ClauseCount + e.RuleCount + e.PolicyCount;

    private static EvalTable ForEval(ImageTables t, ImageInterpreter interp, uint evalId, List<Context> ctxs,
        Dictionary<uint, HashSet<uint>> indexPorts, LoweringLimits limits, long budget)
    {
        uint cap = limits.MaxEvalDecisions;
        var eval = t.Evals[evalId];
        var matches = new List<(uint Id, KmeshMatch Row)>();
        for (uint i = 0; i < eval.MatchCount; i++)
            if (ImageTables.At(t.Lists, eval.MatchFirst + i) is { } mid && ImageTables.At(t.Matches, mid) is { } m) matches.Add((mid, m));
        var live = matches.Where(m => (m.Row.Flags & Layout.MatchNever) == 0).ToList();
        bool dstMatters = live.Any(m => m.Row.DstSet != 0 || m.Row.NotDstSet != 0);
        // The ports the eval's port tests name: the only ports whose decision can differ from any
        // other port's. Every port outside them decides alike (every port test fails on it).
        var named = new SortedSet<uint>(live.SelectMany(m => new[] { m.Row.PortSet, m.Row.NotPortSet })
            .Where(s => s != 0).SelectMany(s => t.PortSets.GetValueOrDefault(s) ?? []));
        if (named.Count > limits.MaxDecisionPorts) return new EvalTable(EvalOutcome.TooManyPorts, false, null, [], 0);
        bool byPort = named.Count > 0;
        uint other = 0;
        while (named.Contains(other)) other++;

        // Decision points: (destination, key port). A port-index entry is one port; the default class
        // is every port the workload's index does not name.
        var points = new SortedSet<(IpAddr Dst, uint KeyPort)>();
        foreach (var c in ctxs)
        {
            if (!byPort) points.Add((c.Dst, 0));
            else if (c.Port is { } p) points.Add((c.Dst, named.Contains(p) ? p : Layout.DecisionOtherPort));
            else
            {
                var index = indexPorts.GetValueOrDefault(c.WorkloadId) ?? [];
                foreach (var q in named) if (!index.Contains(q)) points.Add((c.Dst, q));
                points.Add((c.Dst, Layout.DecisionOtherPort));
            }
        }
        // An eval reached through one port only (a port-index entry) needs no port in its key.
        uint onlyPort = 0;
        if (byPort && points.Select(p => p.KeyPort).Distinct().Count() == 1)
        {
            onlyPort = points.Min.KeyPort;
            byPort = false;
            points = new SortedSet<(IpAddr, uint)>(points.Select(p => (p.Dst, 0u)));
        }
        uint EvalPort(uint keyPort) => keyPort == Layout.DecisionOtherPort ? other : keyPort;
        long decided = 0;
        var tables = new Dictionary<(bool, IpAddr?, uint), List<DecisionRegion>>();
        var perPoint = new SortedDictionary<(IpAddr Dst, uint KeyPort), List<DecisionRegion>>();
        if (points.Select(p => (p.Dst.IsV6, dstMatters ? p.Dst : (IpAddr?)null, p.KeyPort)).Distinct().Count() > cap)
            return new EvalTable(EvalOutcome.OverRegionCap, false, null, [], 0);
        foreach (var (dst, keyPort) in points)
        {
            if (decided * EvalSize(eval) > budget) return new EvalTable(EvalOutcome.OverRegionCap, false, null, [], decided);
            var k = (dst.IsV6, dstMatters ? dst : (IpAddr?)null, keyPort);
            if (!tables.TryGetValue(k, out var regions))
            {
                uint port = EvalPort(byPort ? keyPort : onlyPort);
                regions = Partition(t, interp, eval, matches, dst.IsV6, dst, port, cap, out long n);
                decided += n;
                if (regions is null) return new EvalTable(EvalOutcome.OverRegionCap, false, null, [], decided);
                tables[k] = regions;
            }
            perPoint[(dst, keyPort)] = regions;
        }
        string Fingerprint(List<DecisionRegion> l) => string.Join(";", l.Select(r => r.Prefix + "=" + Convert.ToHexString(Rows.Bytes(r.Decision))));
        // Keyed by destination only when the destinations sharing the eval decide differently.
        bool byDst = perPoint.GroupBy(kv => (kv.Key.Dst.IsV6, kv.Key.KeyPort)).Any(g => g.Select(kv => Fingerprint(kv.Value)).Distinct().Count() > 1);
        IEnumerable<(IpAddr? Dst, uint KeyPort, List<DecisionRegion> Regions)> emit = byDst
            ? perPoint.Select(kv => ((IpAddr?)kv.Key.Dst, kv.Key.KeyPort, kv.Value))
            : perPoint.GroupBy(kv => (kv.Key.Dst.IsV6, kv.Key.KeyPort)).Select(g => ((IpAddr?)null, g.Key.KeyPort, g.First().Value));
        var entries = new List<ImageEntry>();
        foreach (var (dst, keyPort, regions) in emit)
            foreach (var r in regions)
                entries.Add(new ImageEntry(Rows.Bytes(DecisionTable.Key(evalId, keyPort, dst, r.Prefix)), Rows.Bytes(r.Decision)));
        if (entries.Count > cap) return new EvalTable(EvalOutcome.OverRegionCap, false, null, [], decided);
        return new EvalTable(EvalOutcome.Table, byDst, byPort ? [.. named] : null, entries, decided);
    }

    /// <summary>The source partition of one eval for one destination and port, decided and merged:
    /// every prefix (of family <paramref name="v6"/>) of the sets the eval's live matches test the
    /// source against, plus /0; each region decided by the stage walk with set membership read off
    /// the chain of prefixes enclosing it; regions that no address reaches, or that decide like their
    /// enclosing region, dropped. Null when the partition has more than <paramref name="cap"/> regions.</summary>
    public static List<DecisionRegion>? Partition(ImageTables t, ImageInterpreter interp, in KmeshEval eval,
        IReadOnlyList<(uint Id, KmeshMatch Row)> matches, bool v6, IpAddr dst, uint port, uint cap, out long decided)
    {
        decided = 0;
        // Tests that do not depend on the source, decided once.
        var pre = new Dictionary<uint, bool>();
        var srcSets = new SortedSet<uint>();
        foreach (var (id, m) in matches)
        {
            bool ok = (m.Flags & Layout.MatchNever) == 0
                && (m.DstSet == 0 || t.InSet(m.DstSet, dst)) && (m.NotDstSet == 0 || !t.InSet(m.NotDstSet, dst))
                && (m.PortSet == 0 || t.InPortSet(m.PortSet, port)) && (m.NotPortSet == 0 || !t.InPortSet(m.NotPortSet, port));
            pre[id] = ok;
            if (!ok) continue;
            foreach (var s in new[] { m.SrcSet, m.NotSrcSet, m.IdSet }) if (s != 0) srcSets.Add(s);
        }
        // One set alone with more prefixes than the cap: over it, decided without collecting.
        foreach (var s in srcSets) if (t.FamilyCount(s, v6) > cap) return null;
        var own = new Dictionary<(UInt128 Net, int Len), List<uint>>();
        own[(0, 0)] = [];
        foreach (var s in srcSets)
            foreach (var p in t.AddrSets.GetValueOrDefault(s) ?? [])
            {
                if (p.Address.IsV6 != v6) continue;
                var key = (p.Network.Value, p.Length);
                if (!own.TryGetValue(key, out var l))
                {
                    // Over the cap already: give up before collecting the rest (identity sets can
                    // hold tens of thousands of prefixes).
                    if (own.Count >= cap) return null;
                    own[key] = l = [];
                }
                l.Add(s);
            }
        var nodes = own.Keys.OrderBy(k => k.Net).ThenBy(k => k.Len).ToList();
        UInt128 top = v6 ? UInt128.MaxValue : uint.MaxValue;
        // Host bits of a prefix length (a shift by 128 would be a shift by 0).
        UInt128 Host(int len) => len >= 128 ? UInt128.Zero : top >> len;
        UInt128 Last((UInt128 Net, int Len) n) => n.Net | Host(n.Len);

        var parent = new int[nodes.Count];
        var children = new List<int>[nodes.Count];
        var decision = new KmeshDecision[nodes.Count];
        var active = new Dictionary<uint, int>();
        var stack = new List<int>();
        var passes = new Func<uint, KmeshMatch, bool>((id, m) => pre.GetValueOrDefault(id)
            && (m.SrcSet == 0 || active.GetValueOrDefault(m.SrcSet) > 0)
            && (m.NotSrcSet == 0 || active.GetValueOrDefault(m.NotSrcSet) == 0)
            && (m.IdSet == 0 || (active.GetValueOrDefault(m.IdSet) > 0) != ((m.Flags & Layout.MatchIdNegate) != 0)));
        for (int i = 0; i < nodes.Count; i++)
        {
            var n = nodes[i];
            while (stack.Count > 0 && !(nodes[stack[^1]].Len < n.Len && (n.Net & ~Host(nodes[stack[^1]].Len) & top) == nodes[stack[^1]].Net))
            {
                foreach (var s in own[nodes[stack[^1]]]) active[s]--;
                stack.RemoveAt(stack.Count - 1);
            }
            parent[i] = stack.Count > 0 ? stack[^1] : -1;
            children[i] = [];
            if (parent[i] >= 0) children[parent[i]].Add(i);
            stack.Add(i);
            foreach (var s in own[n]) active[s] = active.GetValueOrDefault(s) + 1;
            var v = interp.Stages(eval, passes);
            decided++;
            decision[i] = DecisionTable.Encode(v, pid => ImageTables.At(t.Policies, pid) is { } p && (p.Flags & Layout.PolicyDryRun) != 0);
        }

        // A region is its prefix minus its children: reachable when some address is left.
        var rep = new IpAddr?[nodes.Count];
        for (int i = 0; i < nodes.Count; i++)
        {
            UInt128 candidate = nodes[i].Net;
            bool exhausted = false;
            foreach (int c in children[i])
            {
                if (candidate < nodes[c].Net) break;
                UInt128 last = Last(nodes[c]);
                if (last == top) { exhausted = true; break; }
                candidate = last + 1;
            }
            if (!exhausted && candidate <= Last(nodes[i])) rep[i] = new IpAddr(candidate, v6);
        }
        var result = new List<DecisionRegion>();
        var effective = new KmeshDecision?[nodes.Count];
        for (int i = 0; i < nodes.Count; i++)
        {
            var inherited = parent[i] >= 0 ? effective[parent[i]] : null;
            if (rep[i] is not { } r) { effective[i] = inherited; continue; }
            effective[i] = decision[i];
            if (inherited is { } up && Rows.Bytes(up).AsSpan().SequenceEqual(Rows.Bytes(decision[i]))) continue;
            result.Add(new DecisionRegion(new IpPrefix(new IpAddr(nodes[i].Net, v6), nodes[i].Len), r, decision[i]));
        }
        return result;
    }
}
