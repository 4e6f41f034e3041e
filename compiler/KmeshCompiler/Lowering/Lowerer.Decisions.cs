using System.Runtime.CompilerServices;
using System.Collections.Immutable;
using System.Diagnostics;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Lowering;

/// <summary>Figures about the decision table of one image.</summary>
/// <remarks>RowsWalked is the compile-time work: stage rows visited to build and decide partitions.</remarks>
public sealed record DecisionStats(int Evals, int EvalsWithTable, int Entries, long RowsWalked,
    int OverRegionCap, int TooManyPorts, int TooManyLengths, int OverImageCap, TimeSpan Elapsed)
{
    /// <summary>Evals with a table, in percent of the evals (blocks are not evals).</summary>
    public double CoveragePercent => Evals == 0 ? 100 : 100.0 * EvalsWithTable / Evals;
}

/// <summary>One region of a source partition: the prefix stored in the table (sources without
/// identity) or the decision class (sources with identity), and its decision.</summary>
public sealed record DecisionRegion(IpPrefix Prefix, uint? Class, KmeshDecision Decision);

/// <summary>Builds km_decisions and km_decision_idx (bpf/kmesh_tables.h, docs/dataplane-layout.md
/// "The decision table"): for every local workload address and port class, the verdict of each
/// region of the source address space, decided once at compile time by the stage walk of
/// <see cref="ImageInterpreter"/> over the image's own tables, so that the table and the stages can
/// never disagree.</summary>
public static class DecisionTables
{
    /// <summary>A decision point: a local address, the port its entries are keyed by (a port, or
    /// KMESH_DECISION_OTHER_PORT), and the eval and port the stages would evaluate for it.</summary>
    private sealed record Point(IpAddr Dst, uint KeyPort, uint Eval, uint? EvalPort, uint StagePorts = 0);

    /// <summary>The image with km_decisions and km_decision_idx filled; with <paramref name="enabled"/>
    /// false, with both empty (every SYN takes the stages).</summary>
    public static ImageFile Add(ImageFile image, LoweringLimits limits, bool enabled, out DecisionStats stats) =>
        Add(image, limits, enabled, out stats, null, null);

    /// <param name="classes">The image's decision classes, when the caller has them (the compiler
    /// does); else they are read from km_identities and the sets.</param>
    /// <param name="serves">The target ports a local address serves as a backend, when the caller
    /// knows them (the compiler's service tables do); else they are read from km_backends.</param>
    /// <param name="memo">The rows of the previous compile's evals (<see cref="DecisionMemo"/>), or null.</param>
    internal static ImageFile Add(ImageFile image, LoweringLimits limits, bool enabled, out DecisionStats stats, Func<IpAddr, IReadOnlySet<uint>?>? serves,
        SourceClasses? classes, DecisionMemo? memo = null)
    {
        var sw = Stopwatch.StartNew();
        var entries = new List<ImageEntry>();
        var addedPortSets = new List<ImageEntry>();
        var lengths = new[] { new SortedSet<int>(), new SortedSet<int>() };
        var keyedPorts = new SortedSet<uint>();
        int evalCount = 0, withTable = 0, overRegion = 0, overLengths = 0, overImage = 0;
        var portDependent = new HashSet<uint>(); // evals whose other-ports class names too many ports
        long decided = 0;
        if (enabled)
        {
            var t = new ImageTables(image);
            evalCount = t.Evals.Count(e => (e.Flags & Layout.EvalBlock) == 0);
            var interp = new ImageInterpreter(t, limits.MaxStageSteps, fastPath: false);
            classes ??= new SourceClasses(t);
            memo?.Begin(classes);
            var rowHashes = new DecisionMemo.RowHashes();
            uint imageCap = limits.Capacity(Layout.Map(Layout.MapDecisions));
            var named = new Dictionary<uint, SortedSet<uint>>();
            SortedSet<uint> Named(uint e) => named.TryGetValue(e, out var n) ? n : named[e] = NamedPorts(t, e);
            // The named ports most of an eval's matches test first (health checks, metrics, admin
            // ports that mesh-wide policies name): probes and scrapes go there.
            var busiest = new Dictionary<uint, List<uint>>();
            List<uint> Busiest(uint e) => busiest.TryGetValue(e, out var l) ? l : busiest[e] = [.. NamedPortCounts(t, e).OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key).Select(kv => kv.Key)];
            var indexed = t.PortIndex.GroupBy(kv => kv.Key.Workload).ToDictionary(g => g.Key, g => g.ToDictionary(kv => kv.Key.Port, kv => kv.Value));

            // Every (address, key port) the entry can look up, with the eval deciding it.
            var points = new SortedDictionary<uint, List<Point>>();
            var uncovered = new List<Point>();
            var withOther = new HashSet<IpAddr>(); // addresses with an other-ports table
            void Add(Point p)
            {
                if (!points.TryGetValue(p.Eval, out var l)) points[p.Eval] = l = [];
                l.Add(p);
            }
            // The ports each local address serves (its backends' target ports): where its traffic goes.
            if (serves is null)
            {
                var all = Serves(image);
                serves = a => all.GetValueOrDefault(a);
            }
            // Port sets the table adds to km_port_sets (ports an other-ports entry leaves to the stages).
            var stageSets = new Dictionary<uint, uint>(); // eval -> set id
            uint nextSet = t.PortSets.Count == 0 ? 1 : t.PortSets.Keys.Max() + 1;
            long portSetEntries = t.PortSets.Values.Sum(l => (long)l.Count);
            foreach (var (a, w) in t.Workloads)
            {
                var ports = indexed.GetValueOrDefault(w.WorkloadId) ?? [];
                foreach (var (port, e) in ports.OrderBy(kv => kv.Key)) Add(new Point(a, port, e, port));
                var n = Named(w.EvalId);
                uint stagePorts = 0;
                IEnumerable<uint> keyed = n;
                if (n.Count > limits.MaxDecisionPorts)
                {
                    // More named ports than the table keys: per-port tables for the ports this
                    // address serves (up to the limit); the other-ports entries send the rest of the
                    // named ports to the stages.
                    portDependent.Add(w.EvalId);
                    var mine = serves(a) ?? new SortedSet<uint>();
                    var busy = Busiest(w.EvalId).Take(limits.MaxDecisionBusyPorts);
                    keyed = n.Where(mine.Contains).Concat(busy).Distinct().Take(limits.MaxDecisionPorts).Order().ToList();
                    if (!stageSets.TryGetValue(w.EvalId, out stagePorts))
                    {
                        if (portSetEntries + addedPortSets.Count + n.Count > limits.Capacity(Layout.Map(Layout.MapPortSets)))
                        {
                            // No room for the set: no table for this eval's default class.
                            foreach (var q in n) if (!ports.ContainsKey(q)) uncovered.Add(new Point(a, q, w.EvalId, q));
                            continue;
                        }
                        stageSets[w.EvalId] = stagePorts = nextSet++;
                        foreach (var q in n)
                            addedPortSets.Add(new ImageEntry(Rows.Bytes(new KmeshPortKey { Id = stagePorts, Port = q }), Rows.U32(stagePorts)));
                    }
                }
                foreach (var q in keyed) if (!ports.ContainsKey(q)) Add(new Point(a, q, w.EvalId, q));
                Add(new Point(a, Layout.DecisionOtherPort, w.EvalId, null, stagePorts));
            }

            long work = 0;
            foreach (var (evalId, ps) in points)
            {
                if (ImageTables.At(t.Evals, evalId) is not { } eval) { uncovered.AddRange(ps); continue; }
                if (work >= limits.MaxDecisionWork) { overImage++; uncovered.AddRange(ps); continue; }
                var shape = memo is null ? null : DecisionMemo.ShapeOf(t, eval, [.. ps.Select(p => (p.Dst, p.KeyPort, p.EvalPort, p.StagePorts))], Named(evalId), rowHashes);
                EvalTable r;
                if (shape is not null && memo!.Find(shape) is { } kept) r = new EvalTable(kept.Entries, kept.Lengths, kept.Decided);
                else
                {
                    r = ForEval(t, interp, classes, evalId, eval, ps, Named(evalId), limits);
                    if (shape is not null) memo!.Keep(shape, r.Entries, r.Lengths, r.Decided);
                }
                decided += r.Decided;
                work += r.Decided;
                if (r.Entries is null) { overRegion++; uncovered.AddRange(ps); continue; }
                var union = new[] { new SortedSet<int>(lengths[0]) { 0 }, new SortedSet<int>(lengths[1]) { 0 } };
                foreach (var (fam, len) in r.Lengths) union[fam].Add(len);
                if (union.Any(u => u.Count > Layout.DecisionMaxLengths)) { overLengths++; uncovered.AddRange(ps); continue; }
                if (entries.Count + r.Entries.Count > imageCap) { overImage++; uncovered.AddRange(ps); continue; }
                entries.AddRange(r.Entries);
                foreach (var (fam, len) in r.Lengths) lengths[fam].Add(len);
                foreach (var p in ps)
                    if (p.KeyPort == Layout.DecisionOtherPort) withOther.Add(p.Dst); else keyedPorts.Add(p.KeyPort);
                withTable++;
            }
            // A per-port table that could not be built must not be answered by the address's
            // other-ports table: one /0 entry (which also sets the port's bit) sends it to the
            // stages. Without an other-ports table the retry misses anyway.
            foreach (var p in uncovered.Where(p => p.KeyPort != Layout.DecisionOtherPort && withOther.Contains(p.Dst)).Distinct())
            {
                entries.Add(new ImageEntry(Rows.Bytes(DecisionTable.Key(p.Dst, p.KeyPort, new IpPrefix(p.Dst, 0))), Rows.Bytes(DecisionTable.Stages)));
                entries.Add(new ImageEntry(Rows.Bytes(DecisionTable.ClassKey(p.Dst, p.KeyPort, 0)), Rows.Bytes(DecisionTable.Stages)));
                lengths[p.Dst.IsV6 ? 1 : 0].Add(0);
                keyedPorts.Add(p.KeyPort);
            }
            if (entries.Count > imageCap)
            {
                overImage += withTable;
                withTable = 0;
                entries.Clear();
                lengths = [[], []];
                keyedPorts.Clear();
            }
        }
        memo?.End();
        // The local-address filter covers every workload address, table or not.
        var local = (image.Section(Layout.MapWorkloads)?.Entries ?? []).Select(e => Rows.Address(Rows.Read<KmeshIpKey>(e.Key)).Value);
        // A SYN carries a 16-bit port: a keyed port above 65535 (xDS ports are 32-bit) is never probed,
        // and its bit would land outside the 65536-bit map.
        var index = KmeshDecisionIndex.For([.. lengths[0].Reverse()], [.. lengths[1].Reverse()], keyedPorts.Where(p => p <= 0xffff), local);
        var sections = image.Sections.Where(s => s.Name is not (Layout.MapDecisions or Layout.MapDecisionIndex)).ToList();
        if (addedPortSets.Count > 0)
        {
            int i = sections.FindIndex(s => s.Name == Layout.MapPortSets);
            var merged = (i >= 0 ? sections[i].Entries : []).Concat(addedPortSets);
            var section = ImageSection.For(Layout.Map(Layout.MapPortSets), merged);
            if (i >= 0) sections[i] = section; else sections.Add(section);
        }
        sections.Add(ImageSection.For(Layout.Map(Layout.MapDecisions), entries));
        sections.Add(ImageSection.For(Layout.Map(Layout.MapDecisionIndex), [new ImageEntry(Rows.U32(0), Rows.Bytes(index))]));
        var ordered = Layout.ImageMaps.Select(m => sections.FirstOrDefault(s => s.Name == m.Name)).OfType<ImageSection>().ToImmutableArray();
        stats = new DecisionStats(evalCount, withTable, entries.Count, decided, overRegion, portDependent.Count, overLengths, overImage, sw.Elapsed);
        return image with { Sections = ordered };
    }

    /// <summary>The target ports of every backend address.</summary>
    private static Dictionary<IpAddr, SortedSet<uint>> Serves(ImageFile image)
    {
        var serves = new Dictionary<IpAddr, SortedSet<uint>>();
        foreach (var e in image.Section(Layout.MapBackends)?.Entries ?? [])
        {
            var (ba, bp) = Rows.Backend(Rows.Read<KmeshBackend>(e.Value));
            if (!serves.TryGetValue(ba, out var l)) serves[ba] = l = [];
            l.Add(bp);
        }
        return serves;
    }

    /// <summary>The ports an eval's live matches name (in port and not-port tests): the only ports
    /// whose decision can differ from any other port's.</summary>
    private static SortedSet<uint> NamedPorts(ImageTables t, uint evalId) => [.. NamedPortCounts(t, evalId).Keys];

    /// <summary>Whether a match can hold for a SYN to <paramref name="dst"/>:<paramref name="port"/>
    /// whatever its source: not NEVER, and its destination and port tests pass.</summary>
    internal static bool PassesBeforeSource(ImageTables t, in KmeshMatch m, IpAddr dst, uint port) =>
        (m.Flags & Layout.MatchNever) == 0
        && (m.DstSet == 0 || t.InSet(m.DstSet, dst)) && (m.NotDstSet == 0 || !t.InSet(m.NotDstSet, dst))
        && (m.PortSet == 0 || t.InPortSet(m.PortSet, port)) && (m.NotPortSet == 0 || !t.InPortSet(m.NotPortSet, port));

    /// <summary>How many of an eval's live matches name each port.</summary>
    private static Dictionary<uint, int> NamedPortCounts(ImageTables t, uint evalId)
    {
        var result = new Dictionary<uint, int>();
        if (ImageTables.At(t.Evals, evalId) is not { } eval) return result;
        foreach (var (_, m) in Matches(t, eval))
            if ((m.Flags & Layout.MatchNever) == 0)
                foreach (var s in new[] { m.PortSet, m.NotPortSet })
                    if (s != 0) foreach (var p in t.PortSets.GetValueOrDefault(s) ?? []) result[p] = result.GetValueOrDefault(p) + 1;
        return result;
    }

    /// <summary>The matches an eval's MATCH stage walks: its own, then its shared block's.</summary>
    private static List<(uint Id, KmeshMatch Row)> Matches(ImageTables t, in KmeshEval eval)
    {
        var matches = new List<(uint Id, KmeshMatch Row)>();
        if (t.ListsOf(eval) is not { } lists) return matches;
        for (uint i = 0; i < lists.Match.Count; i++)
            if (ImageTables.At(t.Lists, lists.Match.Slot(i)) is { } mid && ImageTables.At(t.Matches, mid) is { } m) matches.Add((mid, m));
        return matches;
    }

    /// <summary>The entries of one eval at its points, their (family, length) pairs, and how many
    /// regions were decided; Entries null when the eval's distinct partitions hold more than the
    /// per-eval cap of regions (or the work budget runs out).</summary>
    private sealed record EvalTable(List<ImageEntry>? Entries, List<(int Family, int Length)> Lengths, long Decided);


    private static EvalTable ForEval(ImageTables t, ImageInterpreter interp, SourceClasses classes, uint evalId, KmeshEval eval, List<Point> points,
        SortedSet<uint> named, LoweringLimits limits)
    {
        uint cap = limits.MaxEvalDecisions;
        var matches = Matches(t, eval);
        bool dstMatters = matches.Any(m => (m.Row.Flags & Layout.MatchNever) == 0 && (m.Row.DstSet != 0 || m.Row.NotDstSet != 0));
        uint other = 0;
        while (named.Contains(other)) other++;
        long decided = 0, regionsKept = 0;
        var tables = new Dictionary<(bool V6, IpAddr? Dst, uint Port), List<DecisionRegion>>();
        // Evaluators by (destination when it matters, port, sources with identity): both families share them.
        var evaluators = new Dictionary<(IpAddr? Dst, uint Port, bool Known), PartitionEvaluator>();
        var entries = new List<ImageEntry>();
        var lengths = new HashSet<(int, int)>();
        foreach (var p in points)
        {
            uint port = p.EvalPort ?? other;
            // The eval's matches test the port only against the named ports: any other port decides alike.
            if (!named.Contains(port)) port = other;
            var key = (p.Dst.IsV6, dstMatters ? p.Dst : (IpAddr?)null, port);
            if (!tables.TryGetValue(key, out var regions))
            {
                if (decided > limits.MaxDecisionWork) return new EvalTable(null, [], decided);
                if ((t.ListsOf(eval)?.Policy.Count ?? 0) == 0)
                {
                    // No candidate policy: the entry decides without the stages, and so does the table.
                    var v = new KmeshDecision
                    {
                        Verdict = (eval.Flags & Layout.EvalHasAllow) != 0 ? Layout.VerdictDenyNoneAllow : Layout.VerdictAllowNoAllow,
                        PolicyId = uint.MaxValue,
                    };
                    regions = [new DecisionRegion(new IpPrefix(new IpAddr(0, p.Dst.IsV6), 0), null, v), new DecisionRegion(new IpPrefix(new IpAddr(0, p.Dst.IsV6), 0), 0, v)];
                }
                else
                {
                    regions = Partition(t, interp, eval, matches, p.Dst.IsV6, p.Dst, port, cap, out long n, evaluators, key.Item2);
                    decided += n;
                    if (regions is null) return new EvalTable(null, [], decided);
                    var known = classes.Decide(t, interp, eval, matches, p.Dst.IsV6, p.Dst, port, out n, evaluators, key.Item2);
                    decided += n;
                    regions.AddRange(known);
                }
                regionsKept += regions.Count;
                if (regionsKept > cap) return new EvalTable(null, [], decided);
                tables[key] = regions;
            }
            foreach (var r in regions)
            {
                var value = r.Decision;
                if (p.StagePorts != 0 && (value.Flags & Layout.DecisionStages) == 0) value.StagePorts = p.StagePorts;
                if (r.Class is { } cls)
                {
                    entries.Add(new ImageEntry(Rows.Bytes(DecisionTable.ClassKey(p.Dst, p.KeyPort, cls)), Rows.Bytes(value)));
                    continue;
                }
                entries.Add(new ImageEntry(Rows.Bytes(DecisionTable.Key(p.Dst, p.KeyPort, r.Prefix)), Rows.Bytes(value)));
                lengths.Add((r.Prefix.Address.IsV6 ? 1 : 0, r.Prefix.Length));
            }
        }
        return new EvalTable(entries, [.. lengths.Order()], decided);
    }

    /// <summary>The source partition of one eval for one destination and port, decided and merged:
    /// every prefix (of family <paramref name="v6"/>) of the sets the eval's live matches test the
    /// source against, plus /0; each region decided by the stage walk with set membership read off
    /// the chain of prefixes enclosing it; regions that no address reaches, or that decide like their
    /// enclosing region, dropped. Null when the partition has more than <paramref name="cap"/> regions.</summary>
    internal static List<DecisionRegion>? Partition(ImageTables t, ImageInterpreter interp, in KmeshEval eval,
        IReadOnlyList<(uint Id, KmeshMatch Row)> matches, bool v6, IpAddr dst, uint port, uint cap, out long decided,
        Dictionary<(IpAddr? Dst, uint Port, bool Known), PartitionEvaluator>? evaluators = null, IpAddr? dstKey = null)
    {
        decided = 0;
        var srcSets = new SortedSet<uint>();
        if (evaluators?.GetValueOrDefault((dstKey, port, false)) is not { } fast)
        {
            // Tests that do not depend on the source, decided once.
            var pre = new Dictionary<uint, bool>();
            foreach (var (id, m) in matches)
            {
                // A source without identity: identity id and namespace id 0.
                bool ok = PassesBeforeSource(t, m, dst, port)
                    && (m.IdSet == 0 || t.InIdSet(m.IdSet, 0) != ((m.Flags & Layout.MatchIdNegate) != 0));
                pre[id] = ok;
            }
            fast = new PartitionEvaluator(t, interp.MaxStageSteps, eval, (id, m) =>
                !pre.GetValueOrDefault(id) ? false : m.SrcSet == 0 && m.NotSrcSet == 0 ? true : null);
            decided += fast.BuildRows;
            if (evaluators is not null) evaluators[(dstKey, port, false)] = fast;
        }
        // Region boundaries: the sets of the source tests that can still change the verdict.
        foreach (var (_, m) in fast.Dependent)
            foreach (var s in new[] { m.SrcSet, m.NotSrcSet }) if (s != 0) srcSets.Add(s);
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
        var passes = new Func<uint, KmeshMatch, bool>((id, m) =>
            (m.SrcSet == 0 || active.GetValueOrDefault(m.SrcSet) > 0)
            && (m.NotSrcSet == 0 || active.GetValueOrDefault(m.NotSrcSet) == 0));
        // The baseline is a source in no set; a region's source differs from it only in the matches
        // that test the sets enclosing it, so only those (and the rows above them) are evaluated.
        fast.Baseline(passes);
        decided += fast.RowsPerDecision;
        var bySet = new Dictionary<uint, List<int>>();
        for (int d = 0; d < fast.Dependent.Count; d++)
            foreach (var set in new[] { fast.Dependent[d].Row.SrcSet, fast.Dependent[d].Row.NotSrcSet })
                if (set != 0) (bySet.TryGetValue(set, out var l) ? l : bySet[set] = []).Add(d);
        var on = new HashSet<uint>();
        for (int i = 0; i < nodes.Count; i++)
        {
            var n = nodes[i];
            while (stack.Count > 0 && !(nodes[stack[^1]].Len < n.Len && (n.Net & ~Host(nodes[stack[^1]].Len) & top) == nodes[stack[^1]].Net))
            {
                foreach (var s in own[nodes[stack[^1]]]) if (--active[s] == 0) on.Remove(s);
                stack.RemoveAt(stack.Count - 1);
            }
            parent[i] = stack.Count > 0 ? stack[^1] : -1;
            children[i] = [];
            if (parent[i] >= 0) children[parent[i]].Add(i);
            stack.Add(i);
            foreach (var s in own[n])
            {
                active[s] = active.GetValueOrDefault(s) + 1;
                on.Add(s);
            }
            var changed = on.SelectMany(s => bySet.GetValueOrDefault(s) ?? []).Distinct().ToList();
            var v = fast.DecideChanged(changed, passes);
            decided += 1 + changed.Count;
            decision[i] = DecisionTable.Encode(v, pid => ImageTables.At(t.Policies, pid) is { } p && (p.Flags & Layout.PolicyDryRun) != 0);
        }

        // A region is its prefix minus its children: reachable when some address is left.
        var reachable = new bool[nodes.Count];
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
            reachable[i] = !exhausted && candidate <= Last(nodes[i]);
        }
        var result = new List<DecisionRegion>();
        var effective = new KmeshDecision?[nodes.Count];
        for (int i = 0; i < nodes.Count; i++)
        {
            var inherited = parent[i] >= 0 ? effective[parent[i]] : null;
            if (!reachable[i]) { effective[i] = inherited; continue; }
            effective[i] = decision[i];
            if (inherited is { } up && Rows.Bytes(up).AsSpan().SequenceEqual(Rows.Bytes(decision[i]))) continue;
            result.Add(new DecisionRegion(new IpPrefix(new IpAddr(nodes[i].Net, v6), nodes[i].Len), null, decision[i]));
        }
        return result;
    }
}
