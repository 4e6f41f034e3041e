using System.Collections.Immutable;
using System.Text;
using KmeshCompiler.Ir;
using KmeshCompiler.Semantics;

namespace KmeshCompiler.Diff;

/// <summary>The exact semantic diff of two worlds (docs/diff.md): every connection — any source
/// address of either family, with the identity each side's world gives it, to any workload address,
/// on any port — whose decision differs between <c>before</c> and <c>after</c>. The space is cut at
/// every boundary either side uses (address prefixes, workload addresses, identity classes, ports);
/// one representative point of each region is decided by the reference evaluator under both sides,
/// and adjacent regions with the same change are merged. Only destinations the change can touch are
/// examined: those whose owner, namespace or attached policies differ, those a changed policy applies
/// to on either side, and — for sources whose identity changed — those with identity-testing policies
/// (from the changed addresses only). Identities, enforcement and candidate policies are the
/// evaluator's (<see cref="Evaluator.IdentityOf"/>, <see cref="Evaluator.Enforcing"/>,
/// <see cref="Evaluator.EnforcedBy"/>): a host-network pod lends no identity to its address, and a
/// destination the mesh does not enforce is decided by no policy.</summary>
public static class SemanticDiff
{
    public static SemanticDiffResult Compute(World before, World after)
    {
        // The two indexes are independent: build them at the same time.
        var b = Task.Run(() => new Evaluator(before));
        var a = new Evaluator(after);
        return new Engine(b.Result, a).Run();
    }

    public static SemanticDiffResult Compute(Evaluator before, Evaluator after) => new Engine(before, after).Run();

    private sealed class Engine(Evaluator evB, Evaluator evA)
    {
        // Every workload address of either side, sorted; the identity (interned) each side gives it.
        private IpAddr[] _addrs = [];
        private int[] _idB = [], _idA = [];
        private Workload?[] _ownerB = [], _ownerA = [];
        private readonly List<Identity> _ids = [];
        private readonly List<string> _idText = [];
        private long _evaluations;

        public SemanticDiffResult Run()
        {
            IndexAddresses();
            IndexPairs();
            var changedIdentity = new List<int>();
            for (int i = 0; i < _addrs.Length; i++) if (_idB[i] != _idA[i]) changedIdentity.Add(i);

            // Which destinations the change can touch, and whether all sources must be examined (true)
            // or only the addresses whose identity changed (false).
            var dests = new Dictionary<IpAddr, bool>();
            void Touch(IpAddr a, bool full)
            {
                if (!dests.TryGetValue(a, out var f) || (full && !f)) dests[a] = full;
            }
            var changedWorkloads = new HashSet<string>(StringComparer.Ordinal);
            for (int i = 0; i < _addrs.Length; i++)
            {
                var (wb, wa) = (_ownerB[i], _ownerA[i]);
                if (DestinationDiffers(wb, wa))
                {
                    Touch(_addrs[i], true);
                    changedWorkloads.Add((wa ?? wb)!.Uid);
                }
            }
            var changedPolicies = ChangedPolicies();
            foreach (var key in changedPolicies)
                foreach (var ev in new[] { evB, evA })
                    if (ev.PolicyByKey(key) is { } p)
                        foreach (var w in ev.EnforcedBy(p))
                            foreach (var a in w.Addresses) Touch(a, true);
            if (changedIdentity.Count > 0)
                foreach (var ev in new[] { evB, evA })
                {
                    var testing = ev.World.Policies.Where(PolicyContent.UsesIdentity).ToHashSet(ReferenceEqualityComparer.Instance);
                    foreach (var w in ev.World.Workloads)
                        if (ev.Enforcing(w).Any(testing.Contains))
                            foreach (var a in w.Addresses) Touch(a, false);
                }

            int[] restricted = changedIdentity.ToArray();
            int[] all = Enumerable.Range(0, _addrs.Length).ToArray();

            // Destinations with the same candidate policies on both sides (and the same results of
            // destination-address tests) share one analysis.
            var groups = new Dictionary<string, List<IpAddr>>(StringComparer.Ordinal);
            foreach (var (d, full) in dests.OrderBy(x => x.Key))
            {
                string key = GroupKey(d, full);
                if (!groups.TryGetValue(key, out var list)) groups[key] = list = [];
                list.Add(d);
            }

            var merged = new Dictionary<string, (Accum Acc, List<DiffDestination> Dests)>(StringComparer.Ordinal);
            foreach (var (key, members) in groups)
            {
                bool full = key[0] == 'F';
                var accums = Analyse(members[0], full ? all : restricted, full);
                foreach (var acc in accums.Values)
                {
                    if (acc.IsEmpty) continue;
                    acc.Normalise();
                    string k = acc.ChangeKey + "#" + acc.Sources.Key;
                    if (!merged.TryGetValue(k, out var m)) merged[k] = m = (acc, []);
                    foreach (var d in members) m.Dests.Add(new DiffDestination(d, evB.WorkloadAt(d), evA.WorkloadAt(d)));
                }
            }

            var changes = merged.Values
                .Select(m => new SemanticChange(
                    m.Dests.OrderBy(d => d.Name, StringComparer.Ordinal).ThenBy(d => d.Address).ToImmutableArray(),
                    m.Acc.Sources, m.Acc.Ports, m.Acc.Before, m.Acc.After,
                    !m.Acc.After.Policies.IsEmpty ? m.Acc.After.Policies
                        : m.Acc.Before.Policies.Select(p => evA.PolicyByKey(p.Key) ?? p).ToImmutableArray()))
                .OrderBy(Importance)
                .ThenBy(c => c.Destinations[0].Name, StringComparer.Ordinal)
                .ThenBy(c => c.Destinations[0].Address)
                .ThenBy(c => c.Ports[0].First)
                .ThenBy(c => c.Sources.Key, StringComparer.Ordinal)
                .ToImmutableArray();
            return new SemanticDiffResult(changes, new SemanticDiffStats(
                changedPolicies.Count, changedWorkloads.Count, changedIdentity.Count, dests.Count, groups.Count, _evaluations));
        }

        /// <summary>Newly allowed from outside the mesh first, then newly denied, then newly allowed
        /// from inside it.</summary>
        private static int Importance(SemanticChange c) =>
            c.NewlyAllowed && c.Sources.FromOutside ? 0 : !c.NewlyAllowed ? 1 : 2;

        private void IndexAddresses()
        {
            var set = new HashSet<IpAddr>();
            foreach (var w in evB.World.Workloads) foreach (var a in w.Addresses) set.Add(a);
            foreach (var w in evA.World.Workloads) foreach (var a in w.Addresses) set.Add(a);
            _addrs = set.ToArray();
            Array.Sort(_addrs);
            var intern = new Dictionary<Identity, int>();
            int Intern(Identity? id)
            {
                if (id is null) return -1;
                if (!intern.TryGetValue(id, out int k))
                {
                    intern[id] = k = _ids.Count;
                    _ids.Add(id);
                    _idText.Add(id.ToString());
                }
                return k;
            }
            _idB = new int[_addrs.Length];
            _idA = new int[_addrs.Length];
            _ownerB = new Workload?[_addrs.Length];
            _ownerA = new Workload?[_addrs.Length];
            for (int i = 0; i < _addrs.Length; i++)
            {
                _ownerB[i] = evB.WorkloadAt(_addrs[i]);
                _ownerA[i] = evA.WorkloadAt(_addrs[i]);
                _idB[i] = Intern(evB.IdentityOf(_addrs[i]));
                _idA[i] = Intern(evA.IdentityOf(_addrs[i]));
            }
        }

        /// <summary>As a destination, a workload is decided by whether the mesh enforces it and, when it
        /// does, by its namespace and attached policies (<see cref="Evaluator.Enforcing"/>).</summary>
        private static bool DestinationDiffers(Workload? b, Workload? a)
        {
            if (b is null || a is null) return b is not null || a is not null;
            if (b.Enforced != a.Enforced) return true;
            if (!b.Enforced) return false;
            if (b.Namespace != a.Namespace) return true;
            var (pb, pa) = (b.AuthorizationPolicies, a.AuthorizationPolicies);
            if (pb.Length == pa.Length)
            {
                int k = 0;
                while (k < pb.Length && pb[k] == pa[k]) k++;
                if (k == pb.Length) return false;
            }
            return !new HashSet<string>(b.AuthorizationPolicies, StringComparer.Ordinal).SetEquals(a.AuthorizationPolicies);
        }

        private List<string> ChangedPolicies()
        {
            var keys = evB.World.Policies.Select(p => p.Key)
                .Concat(evA.World.Policies.Where(p => evB.PolicyByKey(p.Key) is null).Select(p => p.Key));
            var changed = new List<string>();
            foreach (var k in keys)
            {
                var b = evB.PolicyByKey(k);
                var a = evA.PolicyByKey(k);
                if (b is not null && a is not null && PolicyContent.Equal(b, a)) continue;
                // A policy that is dry-run (or absent) on both sides never decides anything.
                if ((b is null || b.DryRun) && (a is null || a.DryRun)) continue;
                changed.Add(k);
            }
            changed.Sort(StringComparer.Ordinal);
            return changed;
        }

        private static List<Policy> Enforced(Evaluator ev, Workload? w) => w is null ? [] : ev.Enforcing(w).ToList();

        private string GroupKey(IpAddr d, bool full)
        {
            var sb = new StringBuilder(full ? "F" : "R");
            foreach (var (ev, tag) in new[] { (evB, "|B:"), (evA, "|A:") })
            {
                var w = ev.WorkloadAt(d);
                // Absent (every connection denied), not enforced (every one allowed), or enforced.
                sb.Append(tag).Append(w is null ? '-' : w.Enforced ? '+' : '~');
                foreach (var p in Enforced(ev, w))
                {
                    sb.Append(p.Key).Append(',');
                    // Destination-address tests are the only part of a decision that depends on
                    // which address of the group is the destination.
                    foreach (var r in p.Rules)
                        foreach (var c in r.Clauses)
                            foreach (var m in c.Matches)
                            {
                                foreach (var x in m.DestinationIps) sb.Append(x.Contains(d) ? '1' : '0');
                                foreach (var x in m.NotDestinationIps) sb.Append(x.Contains(d) ? '1' : '0');
                            }
                }
            }
            return sb.ToString();
        }

        /// <summary>All changes towards destination <paramref name="d"/>, keyed by change (ports and
        /// both sides' decisions), each with its sources.</summary>
        private Dictionary<string, Accum> Analyse(IpAddr d, int[] candidates, bool full)
        {
            var wb = evB.WorkloadAt(d);
            var wa = evA.WorkloadAt(d);
            var polB = Enforced(evB, wb);
            var polA = Enforced(evA, wa);
            var matches = polB.Concat(polA).SelectMany(p => p.Rules).SelectMany(r => r.Clauses).SelectMany(c => c.Matches).ToList();

            // Ports: cut before and after every port either side names.
            var portCuts = new SortedSet<int> { 0 };
            foreach (var m in matches)
                foreach (var p in m.DestinationPorts.Concat(m.NotDestinationPorts))
                {
                    portCuts.Add((int)p);
                    if (p < 65535) portCuts.Add((int)p + 1);
                }
            var ports = portCuts.ToArray();

            // Identity classes: identities that every identity test of either side treats alike.
            var differing = Differing(wb, wa, polB, polA);
            var cls = IdentityClasses(matches, out int classCount);
            bool identityMatters = classCount > 1;
            var accums = new Dictionary<string, Accum>(StringComparer.Ordinal);
            if (!full && !identityMatters) return accums;
            long ClassKey(int idB, int idA) => ((long)cls[idB + 1] << 32) | (uint)cls[idA + 1];

            foreach (bool v6 in new[] { false, true })
            {
                var cuts = SourceCuts(matches, v6);
                UInt128 familyLast = v6 ? UInt128.MaxValue : uint.MaxValue;
                for (int ci = 0; ci < cuts.Length; ci++)
                {
                    UInt128 lo = cuts[ci];
                    UInt128 hi = ci + 1 < cuts.Length ? cuts[ci + 1] - 1 : familyLast;
                    var range = new IpRange(new IpAddr(lo, v6), new IpAddr(hi, v6));
                    var (from, to) = Span(candidates, range);
                    UInt128 explicitCount = (UInt128)(to - from);
                    bool plaintext = full && hi - lo >= explicitCount;
                    // One evaluation per class pair, grouped into changes once.
                    var cache = new Dictionary<long, ChangeGroup[]>();
                    ChangeGroup[] Cells(IpAddr rep, int idB, int idA)
                    {
                        long key = ClassKey(idB, idA);
                        if (!cache.TryGetValue(key, out var groups))
                            cache[key] = groups = ByChange(Evaluate(rep, d, idB, idA, ports, polB, polA, differing)).ToArray();
                        return groups;
                    }
                    // The workload addresses of the range, by identity pair when the range holds
                    // every workload address of the family (the usual case), else one by one.
                    bool wholeFamily = full && from == (v6 ? _v4Count : 0) && to == (v6 ? _addrs.Length : _v4Count);
                    var pairs = wholeFamily ? _familyPairs[v6 ? 1 : 0] : null;
                    ChangeGroup[]? plainCells = null;
                    if (plaintext) plainCells = Cells(FirstFree(range, candidates, from, to), -1, -1);
                    if (plaintext && (!identityMatters || AllPlain(from, to, pairs)))
                    {
                        foreach (var g in plainCells!) Acc(accums, g).AnyAddress.Add(range);
                        continue;
                    }
                    if (plaintext)
                        foreach (var g in plainCells!) Acc(accums, g).Outside.Add(range);
                    if (pairs is not null)
                    {
                        foreach (var pair in pairs)
                        {
                            var cells = Cells(_addrs[pair.Addresses[0]], pair.B, pair.A);
                            foreach (var g in cells)
                            {
                                var acc = Acc(accums, g);
                                foreach (int i in pair.Addresses) acc.Workloads.Add(Source(i));
                            }
                        }
                        continue;
                    }
                    for (int k = from; k < to; k++)
                    {
                        int i = candidates[k];
                        foreach (var g in Cells(_addrs[i], _idB[i], _idA[i])) Acc(accums, g).Workloads.Add(Source(i));
                    }
                }
            }
            return accums;

            bool AllPlain(int from, int to, List<Pair>? pairs)
            {
                long plain = ClassKey(-1, -1);
                if (pairs is not null) return pairs.All(p => ClassKey(p.B, p.A) == plain);
                for (int k = from; k < to; k++)
                    if (ClassKey(_idB[candidates[k]], _idA[candidates[k]]) != plain) return false;
                return true;
            }
        }

        private WorkloadSource Source(int i) =>
            new(_addrs[i], _idB[i] < 0 ? null : _ids[_idB[i]], _idA[i] < 0 ? null : _ids[_idA[i]]);

        /// <summary>The workload addresses of one family that have the same identity on each side.</summary>
        private sealed record Pair(int B, int A, List<int> Addresses);

        private int _v4Count;
        private readonly List<Pair>[] _familyPairs = [[], []];

        private void IndexPairs()
        {
            _v4Count = 0;
            while (_v4Count < _addrs.Length && !_addrs[_v4Count].IsV6) _v4Count++;
            for (int f = 0; f < 2; f++)
            {
                var byKey = new Dictionary<long, Pair>();
                int lo = f == 0 ? 0 : _v4Count, hi = f == 0 ? _v4Count : _addrs.Length;
                for (int i = lo; i < hi; i++)
                {
                    long key = ((long)_idB[i] << 32) | (uint)_idA[i];
                    if (!byKey.TryGetValue(key, out var p))
                    {
                        byKey[key] = p = new Pair(_idB[i], _idA[i], []);
                        _familyPairs[f].Add(p);
                    }
                    p.Addresses.Add(i);
                }
            }
        }

        // Identity slots: 0 is "no identity", 1 + k is identity k.
        private readonly Dictionary<string, int[]> _atomCache = new(StringComparer.Ordinal);
        private Dictionary<string, int>? _byText;
        private Dictionary<string, List<int>>? _byNamespace;

        /// <summary>The slots for which an identity test holds, computed once per distinct test:
        /// exact names through an index, wildcards by a scan of the identities.</summary>
        private int[] Atom(string key, Func<Identity?, string, bool> holds, Func<int[]?>? indexed)
        {
            if (_atomCache.TryGetValue(key, out var slots)) return slots;
            slots = indexed?.Invoke() ?? Scan(holds);
            _atomCache[key] = slots;
            return slots;
        }

        private int[] Scan(Func<Identity?, string, bool> holds)
        {
            var slots = new List<int>();
            if (holds(null, "")) slots.Add(0);
            for (int k = 0; k < _ids.Count; k++) if (holds(_ids[k], _idText[k])) slots.Add(k + 1);
            return slots.ToArray();
        }

        private int[] NamespaceSlots(string ns)
        {
            if (_byNamespace is null)
            {
                _byNamespace = new Dictionary<string, List<int>>(StringComparer.Ordinal);
                for (int k = 0; k < _ids.Count; k++)
                {
                    if (!_byNamespace.TryGetValue(_ids[k].Namespace, out var l)) _byNamespace[_ids[k].Namespace] = l = [];
                    l.Add(k + 1);
                }
            }
            return _byNamespace.TryGetValue(ns, out var list) ? list.ToArray() : [];
        }

        private int[] PrincipalSlots(string text)
        {
            if (_byText is null)
            {
                _byText = new Dictionary<string, int>(StringComparer.Ordinal);
                for (int k = 0; k < _ids.Count; k++) _byText.TryAdd(_idText[k], k + 1);
            }
            return _byText.TryGetValue(text, out int slot) ? [slot] : [];
        }

        /// <summary>The class of every identity slot: two slots share a class exactly when every
        /// identity test of <paramref name="matches"/> gives them the same result (partition
        /// refinement: each test splits the classes of the slots it holds for).</summary>
        private int[] IdentityClasses(List<Match> matches, out int classCount)
        {
            var cls = new int[_ids.Count + 1];
            int next = 1;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var split = new Dictionary<int, int>();
            void Refine(int[] slots)
            {
                split.Clear();
                foreach (int s in slots)
                {
                    if (!split.TryGetValue(cls[s], out int n)) split[cls[s]] = n = next++;
                    cls[s] = n;
                }
            }
            foreach (var m in matches)
            {
                foreach (var s in m.Namespaces.Concat(m.NotNamespaces))
                {
                    string key = $"n{(int)s.Kind}:{s.Value}";
                    if (seen.Add(key))
                        Refine(Atom(key, (id, _) => s.Matches(id?.Namespace ?? ""),
                            s.Kind == StringMatchKind.Exact && s.Value.Length > 0 ? () => NamespaceSlots(s.Value) : null));
                }
                foreach (var s in m.Principals.Concat(m.NotPrincipals))
                {
                    string key = $"p{(int)s.Kind}:{s.Value}";
                    if (seen.Add(key))
                        Refine(Atom(key, (id, text) => id is not null && s.Matches(text),
                            s.Kind == StringMatchKind.Exact ? () => PrincipalSlots(s.Value) : null));
                }
                foreach (var sa in m.ServiceAccounts.Concat(m.NotServiceAccounts))
                {
                    string key = $"s:{sa.Namespace}/{sa.ServiceAccount}";
                    if (seen.Add(key))
                        Refine(Atom(key, (id, _) => id is not null && id.Namespace == sa.Namespace && id.ServiceAccount == sa.ServiceAccount,
                            () => NamespaceSlots(sa.Namespace).Where(k => _ids[k - 1].ServiceAccount == sa.ServiceAccount).ToArray()));
                }
            }
            classCount = next == 1 ? 1 : cls.Distinct().Count();
            return cls;
        }

        private sealed record Cell(PortRange Ports, SideDecision Before, SideDecision After);

        /// <summary>The positions at which the two candidate lists hold different versions of the
        /// same policies, when the lists agree on every policy's key and action and the destination
        /// exists (and is enforced, or not) alike on both sides; else null. A decision depends only on each candidate's
        /// action and whether it matches, so for a source with the same identity on both sides the
        /// decisions can differ only where one of these policies matches differently.</summary>
        private static int[]? Differing(Workload? wb, Workload? wa, List<Policy> polB, List<Policy> polA)
        {
            if ((wb is null) != (wa is null) || wb?.Enforced != wa?.Enforced || polB.Count != polA.Count) return null;
            var diff = new List<int>();
            for (int i = 0; i < polB.Count; i++)
            {
                if (polB[i].Key != polA[i].Key || polB[i].Action != polA[i].Action) return null;
                if (!ReferenceEquals(polB[i], polA[i]) && !PolicyContent.Equal(polB[i], polA[i])) diff.Add(i);
            }
            return diff.ToArray();
        }

        private List<Cell> Evaluate(IpAddr src, IpAddr dst, int idB, int idA, int[] portCuts, List<Policy> polB, List<Policy> polA, int[]? differing)
        {
            var cells = new List<Cell>();
            Identity? b = idB < 0 ? null : _ids[idB];
            Identity? a = idA < 0 ? null : _ids[idA];
            for (int i = 0; i < portCuts.Length; i++)
            {
                ushort first = (ushort)portCuts[i];
                ushort last = (ushort)(i + 1 < portCuts.Length ? portCuts[i + 1] - 1 : 65535);
                if (differing is not null && idB == idA)
                {
                    bool mayDiffer = false;
                    var probe = new Connection(src, dst, first, b);
                    foreach (int k in differing)
                        if (Evaluator.PolicyMatches(polB[k], probe) != Evaluator.PolicyMatches(polA[k], probe)) { mayDiffer = true; break; }
                    if (!mayDiffer) continue;
                }
                var vb = evB.Decide(new Connection(src, dst, first, b));
                var va = evA.Decide(new Connection(src, dst, first, a));
                _evaluations += 2;
                if (vb.Decision == va.Decision) continue;
                var sb = Side(vb, polB);
                var sa = Side(va, polA);
                if (cells.Count > 0 && cells[^1].Ports.Last + 1 == first && cells[^1].Before.Key == sb.Key && cells[^1].After.Key == sa.Key)
                    cells[^1] = cells[^1] with { Ports = new PortRange(cells[^1].Ports.First, last) };
                else cells.Add(new Cell(new PortRange(first, last), sb, sa));
            }
            return cells;
        }

        private static SideDecision Side(Verdict v, List<Policy> enforced) => new(v.Decision, v.Reason,
            v.Policy is { } p ? [p]
            : v.Reason == Reasons.NoneAllowed ? enforced.Where(x => x.Action == PolicyAction.Allow).OrderBy(x => x.Key, StringComparer.Ordinal).ToImmutableArray()
            : []);

        /// <summary>The cells of one source class grouped into changes: same decisions on both sides,
        /// a list of port ranges.</summary>
        private sealed record ChangeGroup(string Key, ImmutableArray<PortRange> Ports, SideDecision Before, SideDecision After);

        private static IEnumerable<ChangeGroup> ByChange(List<Cell> cells) =>
            cells.GroupBy(c => c.Before.Key + "=>" + c.After.Key, StringComparer.Ordinal).Select(g =>
            {
                var ports = g.Select(c => c.Ports).ToImmutableArray();
                string key = g.Key + "@" + string.Join(',', ports);
                return new ChangeGroup(key, ports, g.First().Before, g.First().After);
            });

        private static Accum Acc(Dictionary<string, Accum> accums, ChangeGroup g)
        {
            if (!accums.TryGetValue(g.Key, out var acc)) accums[g.Key] = acc = new Accum(g.Key, g.Ports, g.Before, g.After);
            return acc;
        }

        /// <summary>The slice [from, to) of <paramref name="candidates"/> (indices into the sorted
        /// address array) whose addresses lie in the range.</summary>
        private (int From, int To) Span(int[] candidates, IpRange r)
        {
            int Lower(IpAddr x)
            {
                int lo = 0, hi = candidates.Length;
                while (lo < hi)
                {
                    int mid = (lo + hi) >>> 1;
                    if (_addrs[candidates[mid]].CompareTo(x) < 0) lo = mid + 1; else hi = mid;
                }
                return lo;
            }
            int from = Lower(r.First);
            int to = from;
            while (to < candidates.Length && _addrs[candidates[to]].CompareTo(r.Last) <= 0) to++;
            return (from, to);
        }

        /// <summary>The lowest address of the range that belongs to no workload on either side.</summary>
        private IpAddr FirstFree(IpRange r, int[] candidates, int from, int to)
        {
            UInt128 x = r.First.Value;
            for (int k = from; k < to && _addrs[candidates[k]].Value == x; k++) x++;
            return new IpAddr(x, r.First.IsV6);
        }

        private static UInt128[] SourceCuts(List<Match> matches, bool v6)
        {
            var cuts = new SortedSet<UInt128> { 0 };
            int bits = v6 ? 128 : 32;
            foreach (var m in matches)
                foreach (var p in m.SourceIps.Concat(m.NotSourceIps))
                {
                    if (p.Address.IsV6 != v6) continue;
                    var start = p.Network.Value;
                    cuts.Add(start);
                    int host = bits - p.Length;
                    if (host >= bits) continue;
                    UInt128 end = start + (UInt128.One << host);
                    if (v6 ? end != 0 : end <= uint.MaxValue) cuts.Add(end);
                }
            return cuts.ToArray();
        }
    }

    /// <summary>The sources of one change towards one destination group, as they are found.</summary>
    private sealed class Accum(string changeKey, ImmutableArray<PortRange> ports, SideDecision before, SideDecision after)
    {
        public string ChangeKey { get; } = changeKey;
        public ImmutableArray<PortRange> Ports { get; } = ports;
        public SideDecision Before { get; } = before;
        public SideDecision After { get; } = after;
        public List<IpRange> AnyAddress { get; } = [];
        public List<IpRange> Outside { get; } = [];
        public List<WorkloadSource> Workloads { get; } = [];
        public DiffSources Sources { get; private set; } = new([], [], []);

        public bool IsEmpty => AnyAddress.Count == 0 && Outside.Count == 0 && Workloads.Count == 0;

        public void Normalise() => Sources = new DiffSources(
            Coalesce(AnyAddress), Coalesce(Outside),
            Workloads.OrderBy(w => w.Address).ToImmutableArray());

        private static ImmutableArray<IpRange> Coalesce(List<IpRange> ranges)
        {
            var sorted = ranges.OrderBy(r => r.First).ToList();
            var result = ImmutableArray.CreateBuilder<IpRange>();
            foreach (var r in sorted)
            {
                if (result.Count > 0 && result[^1].Last.IsV6 == r.First.IsV6 && result[^1].Last.Value + 1 == r.First.Value && result[^1].Last.Value != UInt128.MaxValue)
                    result[^1] = new IpRange(result[^1].First, r.Last);
                else result.Add(r);
            }
            return result.ToImmutable();
        }
    }
}
