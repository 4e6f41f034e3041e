using System.Collections.Immutable;
using System.Diagnostics;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Lowering;

/// <summary>Figures about one lowering: table sizes, what hash-consing saved, budgets used.</summary>
public sealed record LoweringStats(
    int LocalWorkloads,
    int Policies,
    ImmutableSortedDictionary<string, int> Entries,
    int MatchesBeforeSharing, int ClausesBeforeSharing, int RulesBeforeSharing, int SetsBeforeSharing, int EvalsBeforeSharing,
    uint MaxStageSteps, int TailCallsPerPacket, TimeSpan Elapsed)
{
    /// <summary>Wall and process-CPU milliseconds per phase of the lowering, in order.</summary>
    public ImmutableArray<(string Phase, double Ms, double CpuMs)> Phases { get; init; } = [];

    /// <summary>The decision table's figures (coverage: evals with a table of the evals).</summary>
    public DecisionStats? Decisions { get; init; }

    public int RowsSaved =>
        MatchesBeforeSharing - Entries.GetValueOrDefault(Layout.MapMatches) +
        ClausesBeforeSharing - Entries.GetValueOrDefault(Layout.MapClauses) +
        RulesBeforeSharing - Entries.GetValueOrDefault(Layout.MapRules) +
        EvalsBeforeSharing - Entries.GetValueOrDefault(Layout.MapEvals);
}

/// <summary>Lowers a world into the image of one node: authorization tables for every workload on
/// the node (docs/dataplane-layout.md) and load-balancing tables relative to the node's locality.
/// Returns null, with errors in the bag, when the image would not fit its tables or budgets.</summary>
public sealed partial class Lowerer
{
    private readonly World _world;
    private readonly string _node;
    private readonly DiagnosticBag _bag;
    /// <summary>What the previous compile of this node left (<see cref="IncrementalLowerer"/>), or null.</summary>
    private readonly LoweringMemo? _memo;
    private readonly LoweringLimits _limits;
    private readonly Dictionary<IpAddr, Workload> _owner;
    private readonly PolicyIndex _policyIndex;
    private Dictionary<string, List<Policy>> _byNamespace => _policyIndex.ByNamespace;
    private List<Policy> _global => _policyIndex.Global;
    private Dictionary<string, Policy> _byKey => _policyIndex.ByKey;
    private Dictionary<Policy, string> _keyOf => _policyIndex.KeyOf;
    private readonly IdentityLowering _identity;
    private readonly AddressIndex _addresses;
    private LoadBalancingTables? _lb;
    private IdentityTable? _identities;

    // Hash-consed rows.
    private readonly List<uint> _slots = new();
    private readonly Dictionary<IdList, uint> _listIndex = new();
    private readonly List<KmeshMatch> _matches = new();
    private readonly Dictionary<(uint, uint, uint, uint, uint, uint, uint, uint), uint> _matchIndex = new();
    private readonly List<KmeshRange> _clauses = new();
    private readonly List<uint[]> _clauseMembers = new();
    private readonly Dictionary<(uint, uint), uint> _clauseIndex = new();
    private readonly List<KmeshRange> _rules = new();
    private readonly List<uint[]> _ruleMembers = new();
    private readonly Dictionary<(uint, uint), uint> _ruleIndex = new();
    private readonly List<AddressSet> _addrSets = new();
    private readonly Dictionary<AddressSet, uint> _addrSetIndex = new();
    private readonly List<uint[]> _portSets = new();
    private readonly Dictionary<IdList, uint> _portSetIndex = new();
    /// <summary>km_id_sets: each set's members and whether they are namespace ids (one kind per set).</summary>
    private readonly List<(bool ByNs, uint[] Members)> _idSets = new();
    private readonly Dictionary<(bool, IdList), uint> _idSetIndex = new();
    /// <summary>Shared blocks (km_evals rows flagged KMESH_EVAL_BLOCK) by their policy ids.</summary>
    private readonly Dictionary<IdList, Block> _blocks = new();
    private readonly List<KmeshEval> _evals = new();
    private readonly List<uint[]> _evalSteps = new();
    private readonly Dictionary<(uint Flags, IdList Policies), uint> _evalIndex = new();
    private readonly List<LPolicy> _policies = new();
    private readonly Dictionary<Match, MatchInfo> _matchInfo = new(ReferenceEqualityComparer.Instance);
    /// <summary>Sections too large for their map, left empty: the rows needed (the image fails).</summary>
    private readonly Dictionary<string, long> _oversized = new(StringComparer.Ordinal);
    private int _matchesRequested, _clausesRequested, _rulesRequested, _setsRequested, _evalsRequested;

    private sealed record MatchInfo(uint Id, bool Never, uint[] Ports, uint[] NotPorts);

    /// <summary>A shared block: its km_evals id, the rows it lists (left out of the evals that share
    /// it) and its steps per stage.</summary>
    private sealed record Block(uint EvalId, HashSet<uint> Rules, HashSet<uint> Clauses, HashSet<uint> Matches, uint[] Steps);

    private sealed class LPolicy(Policy policy, uint id)
    {
        public Policy Policy { get; } = policy;
        public uint Id { get; } = id;
        public uint[] RuleIds { get; set; } = [];
        public KmeshRange Rules { get; set; }
        /// <summary>The ports a packet could match this policy on.</summary>
        public PortClass Ports { get; set; } = PortClass.None();
        public bool Listed(uint? port) => port is { } p ? Ports.Contains(p) : Ports.CoFinite;
        public bool CanAny => !Ports.IsEmpty;
    }

    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan _cpu = Process.GetCurrentProcess().TotalProcessorTime;
    private readonly List<(string, double, double)> _phases = new();

    private void Phase(string name)
    {
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        _phases.Add((name, _clock.Elapsed.TotalMilliseconds, (cpu - _cpu).TotalMilliseconds));
        _cpu = cpu;
        _clock.Restart();
    }

    /// <summary>Candidate policies by scope, as the reference evaluator finds them: NAMESPACE policies
    /// of the workload's namespace, GLOBAL ones, then the WORKLOAD_SELECTOR policies attached to it.</summary>
    internal sealed class PolicyIndex
    {
        public Dictionary<string, List<Policy>> ByNamespace { get; } = new(StringComparer.Ordinal);
        public List<Policy> Global { get; } = new();
        public Dictionary<string, Policy> ByKey { get; } = new(StringComparer.Ordinal);
        /// <summary>Every policy's key, computed once (a workload can have thousands of candidates).</summary>
        public Dictionary<Policy, string> KeyOf { get; } = new(ReferenceEqualityComparer.Instance);

        /// <summary>Brings this index of <paramref name="before"/> to <paramref name="now"/> (both in key
        /// order) in place; false when many policies changed (the caller builds a new one, this one is spent).</summary>
        public bool Patch(ImmutableArray<Policy> before, ImmutableArray<Policy> now, int max = 256)
        {
            if (SortedDiff<Policy>.Of(before, now, CanonicalOrder.Policies, max) is not { } diff) return false;
            var (gone, come, _) = diff;
            static void Insert(List<Policy> l, Policy p, string key, Dictionary<Policy, string> keys)
            {
                int lo = 0, hi = l.Count;
                while (lo < hi)
                {
                    int mid = (lo + hi) >>> 1;
                    if (string.CompareOrdinal(keys[l[mid]], key) < 0) lo = mid + 1; else hi = mid;
                }
                l.Insert(lo, p);
            }
            foreach (var p in gone)
            {
                string key = KeyOf[p];
                if (!ReferenceEquals(ByKey.GetValueOrDefault(key), p)) return false; // a key given twice
                ByKey.Remove(key);
                if (p.Scope == PolicyScope.Global) Global.Remove(p);
                else if (p.Scope == PolicyScope.Namespace && ByNamespace.TryGetValue(p.Namespace, out var l))
                {
                    l.Remove(p);
                    if (l.Count == 0) ByNamespace.Remove(p.Namespace);
                }
                KeyOf.Remove(p);
            }
            foreach (var p in come)
            {
                string key = p.Key;
                if (!ByKey.TryAdd(key, p)) return false;
                KeyOf[p] = key;
                if (p.Scope == PolicyScope.Global) Insert(Global, p, key, KeyOf);
                else if (p.Scope == PolicyScope.Namespace)
                {
                    if (!ByNamespace.TryGetValue(p.Namespace, out var l)) ByNamespace[p.Namespace] = l = new();
                    Insert(l, p, key, KeyOf);
                }
            }
            return true;
        }

        public PolicyIndex(ImmutableArray<Policy> policies)
        {
            foreach (var p in policies)
            {
                string key = p.Key;
                KeyOf[p] = key;
                ByKey.TryAdd(key, p);
                if (p.Scope == PolicyScope.Global) Global.Add(p);
                else if (p.Scope == PolicyScope.Namespace)
                {
                    if (!ByNamespace.TryGetValue(p.Namespace, out var l)) ByNamespace[p.Namespace] = l = new();
                    l.Add(p);
                }
            }
        }
    }

    /// <summary>Address ownership exactly as the reference evaluator decides it (the first workload by
    /// uid owns a shared address; host-network pods lend no identity to their node's address), the
    /// identities the addresses lend, and the lending addresses in address order with their identity.
    /// Built from the workloads, or patched from the index of the previous world when few workloads
    /// changed (<see cref="Patch"/>), with the same result.</summary>
    internal sealed class AddressIndex
    {
        public Dictionary<IpAddr, Workload> Owner { get; }
        public IdentityLowering Identity { get; }
        /// <summary>Every address that lends an identity with its identity, in address order.</summary>
        public (IpAddr Address, IdentityGroup Group)[] Order { get; }
        /// <summary>The addresses of <see cref="Order"/> alone.</summary>
        public IpAddr[] Keys { get; }
        /// <summary>The index this one was patched from, and the addresses whose owner may differ from it (null when built).</summary>
        public AddressIndex? PatchedFrom { get; private init; }
        public IReadOnlySet<IpAddr>? Touched { get; private init; }
        /// <summary>How many workloads have each address (to know when ownership needs a full look).</summary>
        private readonly Dictionary<IpAddr, int> _holders;
        /// <summary>How many owned addresses lend each identity (to know when the identities change).</summary>
        private readonly Dictionary<(string, string, string), int> _lending;

        private AddressIndex(Dictionary<IpAddr, Workload> owner, Dictionary<IpAddr, int> holders, Dictionary<(string, string, string), int> lending,
            IdentityLowering identity, (IpAddr, IdentityGroup)[] order)
        {
            Owner = owner;
            _holders = holders;
            _lending = lending;
            Identity = identity;
            Order = order;
            Keys = new IpAddr[order.Length];
            for (int i = 0; i < order.Length; i++) Keys[i] = order[i].Item1;
        }

        private static (string, string, string) Fields(Workload w) => (w.TrustDomain, w.Namespace, w.ServiceAccount);

        public static AddressIndex Build(ImmutableArray<Workload> workloads)
        {
            var owner = new Dictionary<IpAddr, Workload>(workloads.Length);
            var holders = new Dictionary<IpAddr, int>(workloads.Length);
            foreach (var w in workloads)
                foreach (var a in w.Addresses.Distinct())
                {
                    owner.TryAdd(a, w);
                    holders[a] = holders.GetValueOrDefault(a) + 1;
                }
            var lending = new Dictionary<(string, string, string), int>();
            foreach (var w in owner.Values)
                if (w.LendsIdentity) lending[Fields(w)] = lending.GetValueOrDefault(Fields(w)) + 1;
            var identity = new IdentityLowering(owner.Values.Where(w => w.LendsIdentity));
            var order = owner.Where(kv => kv.Value.LendsIdentity).Select(kv => (kv.Key, identity.GroupOf(kv.Value))).ToArray();
            System.Array.Sort(order, (x, y) => x.Key.CompareTo(y.Key));
            return new AddressIndex(owner, holders, lending, identity, order);
        }

        /// <summary>The index of <paramref name="now"/> from this index of <paramref name="before"/>
        /// (both in uid order), or null when a full build is simpler: many workloads changed, or an
        /// address shared by several workloads lost its owner. This index must not be used after.</summary>
        public AddressIndex? Patch(ImmutableArray<Workload> before, ImmutableArray<Workload> now, int maxChanges = 256)
        {
            if (SortedDiff<Workload>.Of(before, now, CanonicalOrder.Workloads, maxChanges) is not { } diff) return null;
            var (gone, come, _) = diff;
            var touched = new HashSet<IpAddr>();
            foreach (var w in gone)
                foreach (var a in w.Addresses.Distinct())
                {
                    touched.Add(a);
                    int n = _holders[a] - 1;
                    if (n == 0) _holders.Remove(a); else _holders[a] = n;
                    if (n > 0 && ReferenceEquals(Owner[a], w)) return null; // the next owner is not known here
                }
            foreach (var w in come)
                foreach (var a in w.Addresses.Distinct())
                {
                    touched.Add(a);
                    _holders[a] = _holders.GetValueOrDefault(a) + 1;
                }
            var goneSet = new HashSet<Workload>(gone, ReferenceEqualityComparer.Instance);
            var newOwner = new Dictionary<IpAddr, Workload?>();
            foreach (var a in touched)
            {
                Workload? o = Owner.TryGetValue(a, out var old) && !goneSet.Contains(old) ? old : null;
                foreach (var w in come)
                    if (w.Addresses.Contains(a) && (o is null || string.CompareOrdinal(w.Uid, o.Uid) < 0)) o = w;
                newOwner[a] = o;
            }
            // Lending counts, and whether the set of identities changed.
            bool identitiesChanged = false;
            foreach (var a in touched)
            {
                if (Owner.TryGetValue(a, out var old) && old.LendsIdentity)
                {
                    int n = _lending[Fields(old)] - 1;
                    if (n == 0) { _lending.Remove(Fields(old)); identitiesChanged = true; } else _lending[Fields(old)] = n;
                }
            }
            foreach (var (a, o) in newOwner)
            {
                if (o is null) Owner.Remove(a); else Owner[a] = o;
                if (o is { LendsIdentity: true })
                {
                    int n = _lending.GetValueOrDefault(Fields(o));
                    if (n == 0) identitiesChanged = true;
                    _lending[Fields(o)] = n + 1;
                }
            }
            // A set that lost and regained an identity is unchanged, but rebuilding is still right.
            var identity = identitiesChanged ? new IdentityLowering(Owner.Values.Where(w => w.LendsIdentity)) : Identity;
            // The order: touched addresses spliced out and back in (their group remapped everywhere
            // when the identities were rebuilt).
            var insert = newOwner.Where(kv => kv.Value is { LendsIdentity: true }).Select(kv => (kv.Key, identity.GroupOf(kv.Value!)));
            var order = SortedSplice.Apply<(IpAddr Address, IdentityGroup Group)>(Order, touched.Select(a => (a, (IdentityGroup)null!)), insert, (p, q) => p.Address.CompareTo(q.Address));
            if (identitiesChanged)
                for (int i = 0; i < order.Length; i++) order[i] = (order[i].Address, identity.GroupOf(Owner[order[i].Address]));
            return new AddressIndex(Owner, _holders, _lending, identity, order) { PatchedFrom = this, Touched = touched };
        }
    }

    private Lowerer(World world, string node, DiagnosticBag bag, LoweringLimits limits, LoweringMemo? memo = null)
    {
        _memo = memo;
        _world = IsCanonical(world, memo) ? world : world.Canonical();
        Phase("canonical order");
        _node = node;
        _bag = bag;
        _limits = limits;
        _policyIndex = memo?.Policies(_world.Policies) ?? new PolicyIndex(_world.Policies);
        _addresses = memo?.Addresses(_world.Workloads) ?? AddressIndex.Build(_world.Workloads);
        _owner = _addresses.Owner;
        _identity = _addresses.Identity;
        Phase("address and identity index");
    }

    public static ImageFile? Lower(World world, string node, DiagnosticBag bag, LoweringLimits? limits = null) =>
        Lower(world, node, bag, limits, out _);

    public static ImageFile? Lower(World world, string node, DiagnosticBag bag, LoweringLimits? limits, out LoweringStats? stats) =>
        Lower(world, node, bag, limits, null, out stats);

    internal static ImageFile? Lower(World world, string node, DiagnosticBag bag, LoweringLimits? limits, LoweringMemo? memo, out LoweringStats? stats)
    {
        var sw = Stopwatch.StartNew();
        var l = new Lowerer(world, node, bag, limits ?? LoweringLimits.Kernel, memo);
        var image = l.Run(out stats);
        if (stats is not null) stats = stats with { Elapsed = sw.Elapsed };
        return image;
    }

    private ImageFile? Run(out LoweringStats? stats)
    {
        stats = null;
        if (_world.Workloads.Any(w => w.IsTemplate) && !_world.Workloads.Any(w => !w.IsTemplate))
        {
            var templates = _world.Workloads.Select(w => $"{w.Kind} {w.Key}").ToList();
            _bag.Add(Codes.TemplatesOnly, SourceLocation.None, string.Join(", ", templates.Take(3)) + (templates.Count > 3 ? $" and {templates.Count - 3} more" : ""));
            return null;
        }
        if (!_world.Nodes.Any(n => n.Name == _node) && !_world.Workloads.Any(w => w.Node == _node))
        {
            var known = _world.Nodes.Select(n => n.Name).Concat(_world.Workloads.Select(w => w.Node)).Where(n => n.Length > 0).Distinct().Order(StringComparer.Ordinal).ToList();
            _bag.Add(Codes.NodeNotInInputs, SourceLocation.None, _node, known.Count == 0 ? "(none)" : string.Join(", ", known.Take(10)) + (known.Count > 10 ? ", ..." : ""));
            return null;
        }
        var names = new Dictionary<(NameKind, uint), string>();
        var auth = LowerAuthorization(names, out uint maxSteps, out int localCount);
        Phase("authorization");
        var lb = LoadBalancing(names);
        Phase("load balancing");
        var sections = auth.Concat(lb).ToList();

        int errorsBefore = _bag.Count(Severity.Error);
        foreach (var s in sections)
        {
            var spec = Layout.Map(s.Name);
            uint cap = _limits.Capacity(spec);
            long needed = _oversized.TryGetValue(s.Name, out long over) ? over
                : s.Type == BpfMapType.Array ? (s.Entries.Length == 0 ? 0 : Rows.U32(s.Entries[^1].Key) + 1L) : s.Entries.Length;
            if (needed > cap)
                _bag.Add(Codes.TableOverCapacity, SourceLocation.None, s.Name, needed, cap, MacroOf(s.Name), CauseOf(s.Name));
        }
        if (_policies.Count > _limits.Capacity(Layout.Map(Layout.MapPolicies)) && !sections.Any(s => s.Name == Layout.MapPolicies))
            _bag.Add(Codes.TableOverCapacity, SourceLocation.None, Layout.MapPolicies, _policies.Count, _limits.Capacity(Layout.Map(Layout.MapPolicies)), MacroOf(Layout.MapPolicies), CauseOf(Layout.MapPolicies));
        if (_bag.HasErrors && _bag.Count(Severity.Error) > errorsBefore || _bag.HasErrors) return null;

        var ordered = Layout.ImageMaps.Select(m => sections.FirstOrDefault(s => s.Name == m.Name)).OfType<ImageSection>().ToImmutableArray();
        stats = new LoweringStats(localCount, _policies.Count,
            ordered.ToImmutableSortedDictionary(s => s.Name, s => s.Entries.Length, StringComparer.Ordinal),
            _matchesRequested, _clausesRequested, _rulesRequested, _setsRequested, _evalsRequested,
            maxSteps, Layout.TailCalls, TimeSpan.Zero);
        var image = new ImageFile(_node, Layout.AbiHash, ordered, names);
        Phase("checks and sections");
        image = DecisionTables.Add(image, _limits, _limits.DecisionTables, out var decisions, _lb!.PortsServedBy, _identities!.SourceClasses, _memo?.Decisions);
        Phase("decision tables");
        stats = stats with
        {
            Phases = [.. _phases],
            Decisions = decisions,
            Entries = image.Sections.ToImmutableSortedDictionary(s => s.Name, s => s.Entries.Length, StringComparer.Ordinal),
        };
        return image;
    }

    /// <summary>What fills a table, and so what to do when it overflows.</summary>
    private static string CauseOf(string map) => map switch
    {
        Layout.MapServices or Layout.MapEndpoints or Layout.MapBackends =>
            "it holds every Service of the cluster on every node (each service port and family, endpoints repeated by weight, every backend address and target port), whatever this node's policies: the cluster has more services than the data plane is built for; raise the limit",
        Layout.MapIdentities => "it holds every workload address of the cluster, whatever this node's policies; raise the limit",
        Layout.MapWorkloads => "it holds the addresses of the workloads on this node; raise the limit",
        _ => "split the node's policies or raise the limit",
    };

    private static string MacroOf(string map) => map switch
    {
        Layout.MapWorkloads => "MAX_WORKLOAD_ADDRS",
        Layout.MapPortIndex => "MAX_PORT_INDEX",
        Layout.MapEvals => "MAX_EVALS",
        Layout.MapLists => "MAX_LISTS",
        Layout.MapPolicies => "MAX_POLICIES",
        Layout.MapRules => "MAX_RULES",
        Layout.MapClauses => "MAX_CLAUSES",
        Layout.MapMatches => "MAX_MATCHES",
        Layout.MapAddrSets => "MAX_ADDR_SET_ENTRIES",
        Layout.MapPortSets => "MAX_PORT_SET_ENTRIES",
        Layout.MapIdentities => "MAX_IDENTITY_ADDRS",
        Layout.MapIdSets => "MAX_ID_SET_ENTRIES",
        Layout.MapServices => "MAX_SERVICES",
        Layout.MapEndpoints => "MAX_ENDPOINTS",
        Layout.MapBackends => "MAX_BACKENDS",
        _ => "MAX_META",
    };

    // ---------------------------------------------------------------------------------------------
    // Authorization.

    private List<ImageSection> LowerAuthorization(Dictionary<(NameKind, uint), string> names, out uint maxSteps, out int localCount)
    {
        maxSteps = 0;
        var owner = _owner;
        // Only workloads the mesh enforces get entries: others (host network, not enrolled) pass.
        var local = _world.Workloads.Where(w => w.Node == _node && w.Enforced && !w.IsTemplate).ToList();
        localCount = local.Count;

        // Candidates of every local workload, in decision order: DENY before ALLOW, then by name.
        var candidates = local.Select(w => Candidates(w)
                .DistinctBy(p => KeyOf(p))
                .OrderBy(p => p.Action == PolicyAction.Deny ? 0 : 1)
                .ThenBy(p => KeyOf(p), StringComparer.Ordinal)
                .ToList()).ToList();
        var lpolicies = new Dictionary<string, LPolicy>(StringComparer.Ordinal);
        foreach (var p in candidates.SelectMany(c => c).DistinctBy(p => KeyOf(p)).OrderBy(p => KeyOf(p), StringComparer.Ordinal))
        {
            var lp = LowerPolicy(p, (uint)_policies.Count);
            _policies.Add(lp);
            lpolicies[KeyOf(p)] = lp;
            names[(NameKind.Policy, lp.Id)] = KeyOf(p);
        }
        Phase("policies");

        var workloadEntries = new List<ImageEntry>();
        var portEntries = new List<ImageEntry>();
        var byCandidates = new Dictionary<(uint Flags, IdList Policies), (uint Default, List<(uint Port, uint Eval)> Ports)>();
        for (int i = 0; i < local.Count; i++)
        {
            var w = local[i];
            uint wid = (uint)i;
            names[(NameKind.Workload, wid)] = w.Key;
            var lps = candidates[i].Select(p => lpolicies[KeyOf(p)]).ToList();
            uint flags = lps.Any(p => !p.Policy.DryRun && p.Policy.Action == PolicyAction.Allow) ? Layout.EvalHasAllow : 0;
            var key = (flags, new IdList(lps.Select(p => p.Id).ToArray()));
            if (!byCandidates.TryGetValue(key, out var evals))
                byCandidates[key] = evals = BuildEvals(w, lps, flags);
            foreach (var (eval, port) in evals.Ports.Select(p => (p.Eval, (uint?)p.Port)).Prepend((evals.Default, null)))
            {
                var steps = _evalSteps[(int)eval];
                for (int s = 0; s < steps.Length; s++)
                {
                    maxSteps = Math.Max(maxSteps, steps[s]);
                    if (steps[s] > _limits.MaxStageSteps)
                        _bag.Add(Codes.StageStepsOverBudget.CreateFor(w.Key, w.Location, w.Key, StageNames[s], steps[s], port?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "(any other)", _limits.MaxStageSteps));
                }
            }
            if (Layout.TailCalls > _limits.KernelTailCallLimit)
                _bag.Add(Codes.TailCallsOverBudget, w.Location, w.Key, Layout.TailCalls, _limits.KernelTailCallLimit);
            foreach (var a in w.Addresses.Distinct().Order())
            {
                var o = owner[a];
                if (!ReferenceEquals(o, w)) { _bag.Add(Codes.AddressNotOwned, w.Location, a, w.Key, o.Key); continue; }
                workloadEntries.Add(new ImageEntry(Rows.Bytes(Rows.IpKey(a)), Rows.Bytes(new KmeshWorkload { WorkloadId = wid, EvalId = evals.Default })));
            }
            foreach (var (port, eval) in evals.Ports)
                portEntries.Add(new ImageEntry(Rows.Bytes(new KmeshPortKey { Id = wid, Port = port }), Rows.U32(eval)));
        }

        Phase("evals");
        var sections = new List<ImageSection>
        {
            ImageSection.For(Layout.Map(Layout.MapWorkloads), workloadEntries),
            ImageSection.For(Layout.Map(Layout.MapPortIndex), portEntries),
            Array(Layout.MapEvals, _evals.Select(Rows.Bytes)),
            Fits(Layout.MapLists, _slots.Count) ? Array(Layout.MapLists, _slots.Select(Rows.U32)) : ImageSection.For(Layout.Map(Layout.MapLists), []),
            Array(Layout.MapPolicies, _policies.Select(p => Rows.Bytes(new KmeshPolicy
            {
                RulesFirst = p.Rules.First,
                RulesCount = p.Rules.Count,
                Action = p.Policy.Action == PolicyAction.Deny ? Layout.ActionDeny : Layout.ActionAllow,
                Flags = p.Policy.DryRun ? Layout.PolicyDryRun : 0,
            }))),
            Array(Layout.MapRules, _rules.Select(Rows.Bytes)),
            Array(Layout.MapClauses, _clauses.Select(Rows.Bytes)),
            Array(Layout.MapMatches, _matches.Select(Rows.Bytes)),
        };
        var setEntries = new List<ImageEntry>();
        if (Fits(Layout.MapAddrSets, _addrSets.Sum(a => (long)a.Prefixes.Count)))
            for (int i = 0; i < _addrSets.Count; i++)
                foreach (var p in _addrSets[i].Prefixes)
                    setEntries.Add(new ImageEntry(Rows.Bytes(Rows.AddrSetKey((uint)i + 1, p)), Rows.U32((uint)i + 1)));
        sections.Add(ImageSection.For(Layout.Map(Layout.MapAddrSets), setEntries));
        var portSetEntries = new List<ImageEntry>();
        for (int i = 0; i < _portSets.Count; i++)
            foreach (var p in _portSets[i])
                portSetEntries.Add(new ImageEntry(Rows.Bytes(new KmeshPortKey { Id = (uint)i + 1, Port = p }), Rows.U32((uint)i + 1)));
        sections.Add(ImageSection.For(Layout.Map(Layout.MapPortSets), portSetEntries));
        Phase("policy sections");
        _identities = Identities();
        sections.Add(_identities.Section);
        Phase("identities");
        foreach (var g in _identity.Groups)
        {
            names[(NameKind.Identity, g.Id)] = g.Principal;
            names[(NameKind.Namespace, g.Ns)] = g.Identity.Namespace;
        }
        var idSetEntries = new List<ImageEntry>();
        for (int i = 0; i < _idSets.Count; i++)
            foreach (var member in _idSets[i].Members)
                idSetEntries.Add(new ImageEntry(Rows.Bytes(new KmeshIdSetKey { SetId = (uint)i + 1, Member = member }), Rows.U32((uint)i + 1)));
        sections.Add(ImageSection.For(Layout.Map(Layout.MapIdSets), idSetEntries));
        return sections;
    }

    /// <summary>The load-balancing sections, their names and diagnostics (<see cref="LoadBalancingTables"/>):
    /// the previous compile's when nothing they depend on changed, the previous compile's updated for
    /// the services an update touched, or built.</summary>
    private List<ImageSection> LoadBalancing(Dictionary<(NameKind, uint), string> names)
    {
        var t = _lb = _memo?.LoadBalancing(_world, _node) ?? LoadBalancingTables.Build(_world, _node);
        foreach (var (k, v) in t.Names) names[k] = v;
        _bag.AddRange(t.Diagnostics);
        return t.Sections;
    }

    /// <summary>km_identities (<see cref="IdentityTable"/>): the previous compile's when the addresses
    /// and the sets that decide the classes are the same, patched when only a few addresses changed, else built.</summary>
    private IdentityTable Identities()
    {
        var liveSrc = _matches.Where(m => (m.Flags & Layout.MatchNever) == 0).SelectMany(m => new[] { m.SrcSet, m.NotSrcSet }).Where(x => x != 0).Distinct().Order()
            .Select(set => (set, _addrSets[(int)set - 1])).ToList();
        var inputs = new IdentityTable.Inputs(_identity, [.. _idSets], liveSrc);
        if (_memo?.Identities(inputs, _addresses) is { } known) return known;
        var built = IdentityTable.Build(inputs, _addresses);
        _memo?.IdentitiesBuilt(built);
        return built;
    }

    /// <summary>Front ends already produce canonical worlds; checking is linear, sorting is not. An
    /// array the previous compile of this node already checked is not checked again.</summary>
    private static bool IsCanonical(World w, LoweringMemo? memo)
    {
        static bool Sorted<T>(ImmutableArray<T> a, Func<T, string> key)
        {
            for (int i = 1; i < a.Length; i++) if (string.CompareOrdinal(key(a[i - 1]), key(a[i])) > 0) return false;
            return true;
        }
        // Keys "namespace/name" compared without building them.
        static bool SortedByKey<T>(ImmutableArray<T> a, Func<T, string> ns, Func<T, string> name)
        {
            for (int i = 1; i < a.Length; i++)
                if (CompareKeys(ns(a[i - 1]), name(a[i - 1]), ns(a[i]), name(a[i])) > 0) return false;
            return true;
        }
        bool ok = (memo?.Checked(w.Namespaces) == true || Sorted(w.Namespaces, n => n.Name))
            && (memo?.Checked(w.Nodes) == true || Sorted(w.Nodes, n => n.Name))
            && (memo?.Checked(w.Workloads) == true || (memo?.SortedFrom(w.Workloads, CanonicalOrder.Workloads) ?? Sorted(w.Workloads, x => x.Uid)))
            && (memo?.Checked(w.Services) == true || (memo?.SortedFrom(w.Services, CanonicalOrder.Services) ?? SortedByKey(w.Services, s => s.Namespace, s => s.Hostname)))
            && (memo?.Checked(w.Policies) == true || (memo?.SortedFrom(w.Policies, CanonicalOrder.Policies) ?? SortedByKey(w.Policies, p => p.Namespace, p => p.Name)));
        if (ok) memo?.Canonical(w);
        return ok;
    }

    /// <summary>Whether <paramref name="rows"/> rows fit the map; if not, the rows are not built (the
    /// image fails its capacity check, which reports this count).</summary>
    private bool Fits(string map, long rows)
    {
        if (rows <= _limits.Capacity(Layout.Map(map))) return true;
        _oversized[map] = rows;
        return false;
    }

    /// <summary>string.CompareOrdinal($"{a1}/{a2}", $"{b1}/{b2}") without the strings.</summary>
    internal static int CompareKeys(string a1, string a2, string b1, string b2)
    {
        int la = a1.Length + 1 + a2.Length, lb = b1.Length + 1 + b2.Length;
        for (int i = 0, n = Math.Min(la, lb); i < n; i++)
        {
            char x = i < a1.Length ? a1[i] : i == a1.Length ? '/' : a2[i - a1.Length - 1];
            char y = i < b1.Length ? b1[i] : i == b1.Length ? '/' : b2[i - b1.Length - 1];
            if (x != y) return x - y;
        }
        return la - lb;
    }

    private string KeyOf(Policy p) => _keyOf.TryGetValue(p, out var k) ? k : p.Key;

    private IEnumerable<Policy> Candidates(Workload w)
    {
        foreach (var p in _byNamespace.GetValueOrDefault(w.Namespace) ?? []) yield return p;
        foreach (var p in _global) yield return p;
        foreach (var name in w.AuthorizationPolicies)
            if (_byKey.TryGetValue(name, out var p) && p.Scope == PolicyScope.WorkloadSelector) yield return p;
    }

    public static readonly string[] StageNames = ["match", "clause", "rule", "policy"];

    private static ImageSection Array(string map, IEnumerable<byte[]> values) =>
        ImageSection.For(Layout.Map(map), values.Select((v, i) => new ImageEntry(Rows.U32((uint)i), v)));

    /// <summary>Interns a list of ids in km_lists; identical lists share their slots.</summary>
    private KmeshRange ListOf(uint[] ids)
    {
        if (ids.Length == 0) return default;
        var key = new IdList(ids);
        if (!_listIndex.TryGetValue(key, out uint first))
        {
            first = (uint)_slots.Count;
            _slots.AddRange(ids);
            _listIndex[key] = first;
        }
        return new KmeshRange { First = first, Count = (uint)ids.Length };
    }

    private LPolicy LowerPolicy(Policy p, uint id)
    {
        var lp = new LPolicy(p, id);
        var ruleIds = new List<uint>();
        var policyPorts = PortClass.None();
        foreach (var r in p.Rules)
        {
            var clauseIds = new List<uint>();
            var rulePorts = PortClass.All();
            foreach (var c in r.Clauses)
            {
                var infos = c.Matches.Select(LowerMatch).ToList();
                clauseIds.Add(Intern(_clauses, _clauseMembers, _clauseIndex, IdList.SortedSet(infos.Select(i => i.Id))));
                _clausesRequested++;
                var clausePorts = infos.Count == 0 ? PortClass.All() : PortClass.UnionAll(infos.Select(PortsOf).ToList());
                rulePorts = PortClass.Intersect(rulePorts, clausePorts);
            }
            ruleIds.Add(Intern(_rules, _ruleMembers, _ruleIndex, IdList.SortedSet(clauseIds)));
            _rulesRequested++;
            policyPorts = PortClass.Union(policyPorts, rulePorts);
        }
        lp.RuleIds = IdList.SortedSet(ruleIds);
        lp.Rules = ListOf(lp.RuleIds);
        lp.Ports = policyPorts;
        return lp;
    }

    /// <summary>The ports a match could match on: none if it never matches; its ports minus its
    /// excluded ports; or every port but the excluded ones.</summary>
    private static PortClass PortsOf(MatchInfo m) =>
        m.Never ? PortClass.None()
        : m.Ports.Length > 0 ? PortClass.Only(m.Ports.Except(m.NotPorts))
        : PortClass.AllExcept(m.NotPorts);

    private static (uint, uint) Key(KmeshRange r) => (r.First, r.Count);

    private static (uint, uint, uint, uint, uint, uint, uint, uint) Key(KmeshMatch m) =>
        (m.Flags, m.SrcSet, m.NotSrcSet, m.DstSet, m.NotDstSet, m.PortSet, m.NotPortSet, m.IdSet);

    private uint Intern(List<KmeshRange> rows, List<uint[]> members, Dictionary<(uint, uint), uint> index, uint[] ids)
    {
        var range = ListOf(ids);
        if (!index.TryGetValue(Key(range), out uint id))
        {
            id = (uint)rows.Count;
            rows.Add(range);
            members.Add(ids);
            index[Key(range)] = id;
        }
        return id;
    }

    private MatchInfo LowerMatch(Match m)
    {
        _matchesRequested++;
        if (_matchInfo.TryGetValue(m, out var known)) return known;
        var row = new KmeshMatch();
        var c = _memo?.MatchContent(m, _identity) ?? MatchContent.Of(m, _identity);
        uint[] ports = c.Ports, notPorts = c.NotPorts;
        bool never = m.IsEmpty;
        if (!never)
        {
            row.SrcSet = AddrSet(c.Src);
            row.NotSrcSet = AddrSet(c.NotSrc);
            row.DstSet = AddrSet(c.Dst);
            row.NotDstSet = AddrSet(c.NotDst);
            row.PortSet = PortSet(ports);
            row.NotPortSet = PortSet(notPorts);
            var id = c.Identity;
            switch (id.Kind)
            {
                case IdentityTestKind.Never: never = true; break;
                case IdentityTestKind.In or IdentityTestKind.NotIn:
                    row.IdSet = IdSet(id.ByNamespace, id.Members);
                    if (id.ByNamespace) row.Flags |= Layout.MatchIdByNs;
                    if (id.Kind == IdentityTestKind.NotIn) row.Flags |= Layout.MatchIdNegate;
                    break;
            }
        }
        if (never) row = new KmeshMatch { Flags = Layout.MatchNever };
        if (!_matchIndex.TryGetValue(Key(row), out uint mid))
        {
            mid = (uint)_matches.Count;
            _matches.Add(row);
            _matchIndex[Key(row)] = mid;
        }
        var info = new MatchInfo(mid, never, ports, notPorts);
        _matchInfo[m] = info;
        return info;
    }

    /// <summary>What a match lowers to before its sets are numbered: a function of the match and the
    /// world's identities alone, so the previous compile's is reused while both stay.</summary>
    internal sealed record MatchContent(uint[] Ports, uint[] NotPorts, AddressSet? Src, AddressSet? NotSrc, AddressSet? Dst, AddressSet? NotDst, IdentityTest Identity)
    {
        public static MatchContent Of(Match m, IdentityLowering identity)
        {
            static AddressSet? Set(ImmutableArray<IpPrefix> p) => p.IsEmpty ? null : AddressSet.Of(p);
            bool never = m.IsEmpty;
            return new(IdList.SortedSet(m.DestinationPorts), IdList.SortedSet(m.NotDestinationPorts),
                never ? null : Set(m.SourceIps), never ? null : Set(m.NotSourceIps), never ? null : Set(m.DestinationIps), never ? null : Set(m.NotDestinationIps),
                never ? default : identity.Lower(m));
        }
    }

    private uint AddrSet(AddressSet? set)
    {
        if (set is null) return 0;
        _setsRequested++;
        if (!_addrSetIndex.TryGetValue(set, out uint id))
        {
            _addrSets.Add(set);
            id = (uint)_addrSets.Count;
            _addrSetIndex[set] = id;
        }
        return id;
    }

    private uint IdSet(bool byNs, uint[] members)
    {
        var key = (byNs, new IdList(members));
        if (!_idSetIndex.TryGetValue(key, out uint id))
        {
            _idSets.Add((byNs, members));
            id = (uint)_idSets.Count;
            _idSetIndex[key] = id;
        }
        return id;
    }

    private uint PortSet(uint[] ports)
    {
        if (ports.Length == 0) return 0;
        var key = new IdList(ports);
        if (!_portSetIndex.TryGetValue(key, out uint id))
        {
            _portSets.Add(ports);
            id = (uint)_portSets.Count;
            _portSetIndex[key] = id;
        }
        return id;
    }

    /// <summary>The default eval of a candidate list and one eval per port whose listed policies
    /// differ from the default's. Falls back to one eval of every policy that can match at all
    /// when per-port lists would be too large.</summary>
    private (uint Default, List<(uint Port, uint Eval)> Ports) BuildEvals(Workload w, List<LPolicy> lps, uint flags)
    {
        var other = lps.Where(p => p.Listed(null)).ToList();
        var ports = new SortedSet<uint>(lps.SelectMany(p => p.Ports.Listed));
        var perPort = new List<(uint Port, List<LPolicy> List)>();
        long total = 0;
        long budget = _limits.PortIndexBase + (long)_limits.PortIndexFactor * lps.Count;
        foreach (var port in ports)
        {
            var list = lps.Where(p => p.Listed(port)).ToList();
            if (list.Count == other.Count && list.Zip(other).All(x => ReferenceEquals(x.First, x.Second))) continue;
            total += list.Count;
            if (total > budget)
            {
                _bag.Add(Codes.PortIndexDropped, w.Location, w.Key, lps.Count, ports.Count, total);
                return (Eval(lps.Where(p => p.CanAny).ToList(), flags), []);
            }
            perPort.Add((port, list));
        }
        uint def = Eval(other, flags);
        return (def, perPort.Select(p => (p.Port, Eval(p.List, flags))).ToList());
    }

    /// <summary>An eval of <paramref name="policies"/> (in decision order). Its mesh-wide policies go
    /// to a shared block, stored once for every eval that lists the same ones (kmesh_tables.h,
    /// "Shared blocks"); the eval's own lists hold the rest, minus rows the block already lists.</summary>
    private uint Eval(List<LPolicy> policies, uint flags)
    {
        _evalsRequested++;
        var key = (flags, new IdList(policies.Select(p => p.Id).ToArray()));
        if (_evalIndex.TryGetValue(key, out uint id)) return id;
        var shared = policies.Where(p => p.Policy.Scope == PolicyScope.Global).ToList();
        var block = shared.Count == 0 ? null : BlockOf(shared);
        var own = block is null ? policies : policies.Where(p => p.Policy.Scope != PolicyScope.Global).ToList();
        id = AddEvalRow(own, flags, block);
        _evalIndex[key] = id;
        return id;
    }

    private Block BlockOf(List<LPolicy> shared)
    {
        var key = new IdList(shared.Select(p => p.Id).ToArray());
        if (_blocks.TryGetValue(key, out var b)) return b;
        uint id = AddEvalRow(shared, Layout.EvalBlock, null);
        var (rules, clauses, matches) = Reach(shared);
        b = new Block(id, [.. rules], [.. clauses], [.. matches], _evalSteps[(int)id]);
        _blocks[key] = b;
        return b;
    }

    private (uint[] Rules, uint[] Clauses, uint[] Matches) Reach(List<LPolicy> policies)
    {
        var rules = IdList.SortedSet(policies.SelectMany(p => p.RuleIds));
        var clauses = IdList.SortedSet(rules.SelectMany(r => _ruleMembers[(int)r]));
        var matches = IdList.SortedSet(clauses.SelectMany(c => _clauseMembers[(int)c]));
        return (rules, clauses, matches);
    }

    /// <summary>A km_evals row for <paramref name="policies"/>, sharing <paramref name="block"/>: its
    /// steps per stage are its own plus the block's.</summary>
    private uint AddEvalRow(List<LPolicy> policies, uint flags, Block? block)
    {
        var (rules, clauses, matches) = Reach(policies);
        if (block is not null)
        {
            rules = rules.Where(x => !block.Rules.Contains(x)).ToArray();
            clauses = clauses.Where(x => !block.Clauses.Contains(x)).ToArray();
            matches = matches.Where(x => !block.Matches.Contains(x)).ToArray();
        }
        var policyIds = policies.Select(p => p.Id).ToArray();
        KmeshRange m = ListOf(matches), c = ListOf(clauses), r = ListOf(rules), p = ListOf(policyIds);
        uint id = (uint)_evals.Count;
        _evals.Add(new KmeshEval
        {
            Flags = flags,
            MatchFirst = m.First, MatchCount = m.Count,
            ClauseFirst = c.First, ClauseCount = c.Count,
            RuleFirst = r.First, RuleCount = r.Count,
            PolicyFirst = p.First, PolicyCount = p.Count,
            Shared = block is null ? 0 : block.EvalId + 1,
        });
        uint[] steps =
        [
            (uint)matches.Length,
            (uint)(clauses.Length + clauses.Sum(x => (long)_clauseMembers[(int)x].Length)),
            (uint)(rules.Length + rules.Sum(x => (long)_ruleMembers[(int)x].Length)),
            (uint)(policies.Count + policies.Sum(x => (long)x.RuleIds.Length)),
        ];
        if (block is not null) for (int i = 0; i < steps.Length; i++) steps[i] += block.Steps[i];
        _evalSteps.Add(steps);
        return id;
    }
}
