using System.Buffers.Binary;
using System.IO.Hashing;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Lowering;

/// <summary>The decision rows of each eval, kept between the compiles of one node
/// (docs/incremental.md, "The decision table"). An eval's rows depend on its stage lists and the
/// rows they reach, the sets those test, its points and the decision classes; the rows name policy
/// ids (the deciding policy and the policies that matched), which an update elsewhere shifts. So an eval is keyed by a fingerprint of all of
/// that with every row id replaced by its position in the eval's own lists (and the ids' relative
/// order, which the POLICY stage compares), and its rows are kept with those positions in place of
/// the ids, then given the new ids on reuse. Source-address and identity sets appear by id: the
/// memo is only used while the decision classes are the same object, which the identity table keeps
/// only while those sets are the same, ids included.</summary>
internal sealed class DecisionMemo
{
    internal sealed record Kept(List<ImageEntry>? Entries, List<(int Family, int Length)> Lengths, long Decided);

    private object? _classes;
    private Dictionary<UInt128, Kept> _kept = new();
    private Dictionary<UInt128, Kept> _next = new();

    public int Reused { get; private set; }
    public int Computed { get; private set; }

    /// <summary>Starts a compile with these classes: rows kept for other classes are forgotten.</summary>
    public void Begin(object classes)
    {
        if (!ReferenceEquals(classes, _classes)) _kept.Clear();
        _classes = classes;
        _next.Clear();
        Reused = Computed = 0;
    }

    /// <summary>Forgets the counts of the last compile (one that fails before its decision table reports none).</summary>
    public void ResetCounts() => Reused = Computed = 0;

    /// <summary>Ends a compile: what it did not ask for is forgotten.</summary>
    public void End() => (_kept, _next) = (_next, _kept);

    /// <summary>An eval's ids by kind in the order of its lists (position = local number), and the fingerprint.</summary>
    internal sealed class Shape(uint[] policies, uint stageSet, UInt128 key)
    {
        public uint[] Policies { get; } = policies;
        /// <summary>The km_port_sets set of named ports the eval's other-ports entries leave to the stages (0: none).</summary>
        public uint StageSet { get; } = stageSet;
        public UInt128 Key { get; } = key;
    }

    public Kept? Find(Shape s)
    {
        if (!_kept.TryGetValue(s.Key, out var k) && !_next.TryGetValue(s.Key, out k)) return null;
        _next[s.Key] = k;
        Reused++;
        return k.Entries is null ? k : k with { Entries = Relabel(k.Entries, s, toLocal: false) };
    }

    public void Keep(Shape s, List<ImageEntry>? entries, List<(int Family, int Length)> lengths, long decided)
    {
        Computed++;
        _next[s.Key] = new Kept(entries is null ? null : Relabel(entries, s, toLocal: true), lengths, decided);
    }

    /// <summary>Decision values with their policy and match ids turned into the eval's local numbers, or back.</summary>
    private static unsafe List<ImageEntry> Relabel(List<ImageEntry> entries, Shape s, bool toLocal)
    {
        Dictionary<uint, uint>? policyLocal = null;
        if (toLocal)
        {
            policyLocal = new();
            for (int i = 0; i < s.Policies.Length; i++) policyLocal.TryAdd(s.Policies[i], (uint)i);
        }
        uint Map(uint id, uint[] global, Dictionary<uint, uint>? local) =>
            toLocal ? (local!.TryGetValue(id, out uint l) ? l : throw new InvalidOperationException($"decision names id {id} outside its eval"))
                    : global[id];
        var result = new List<ImageEntry>(entries.Count);
        foreach (var e in entries)
        {
            var d = Rows.Read<KmeshDecision>(e.Value);
            if ((d.Flags & Layout.DecisionStages) == 0)
            {
                if (d.PolicyId != uint.MaxValue) d.PolicyId = Map(d.PolicyId, s.Policies, policyLocal);
                // matched[]: the policies that matched, KMESH_DECISION_DRY_RUN marking dry-run ones.
                for (int i = 0; i < Math.Min(d.Count, (uint)Layout.DecisionMaxMatched); i++)
                    d.Matched[i] = Map(d.Matched[i] & ~Layout.DecisionDryRun, s.Policies, policyLocal) | (d.Matched[i] & Layout.DecisionDryRun);
            }
            // The stage-port set is numbered per compile: kept as "the eval's set".
            if (d.StagePorts != 0) d.StagePorts = toLocal ? 1 : s.StageSet;
            result.Add(new ImageEntry(e.Key, Rows.Bytes(d)));
        }
        return result;
    }

    /// <summary>The shape and fingerprint of an eval at its points.</summary>
    public static Shape ShapeOf(ImageTables t, in KmeshEval eval, IReadOnlyList<(IpAddr Dst, uint KeyPort, uint? EvalPort, uint StagePorts)> points, SortedSet<uint> named,
        RowHashes rowHashes)
    {
        var w = new Fingerprint();
        w.U32(eval.Flags);
        var matches = new List<uint>();
        var clauses = new List<uint>();
        var rules = new List<uint>();
        var policies = new List<uint>();
        var local = new[] { new Dictionary<uint, int>(), new Dictionary<uint, int>(), new Dictionary<uint, int>(), new Dictionary<uint, int>() };
        var ids = new[] { matches, clauses, rules, policies };
        int Local(int kind, uint id)
        {
            if (!local[kind].TryGetValue(id, out int n)) { local[kind][id] = n = ids[kind].Count; ids[kind].Add(id); }
            return n;
        }
        if (t.ListsOf(eval) is { } lists)
        {
            var stages = new[] { lists.Match, lists.Clause, lists.Rule, lists.Policy };
            for (int kind = 0; kind < 4; kind++)
            {
                w.U32(stages[kind].Count);
                for (uint i = 0; i < stages[kind].Count; i++)
                    w.I32(ImageTables.At(t.Lists, stages[kind].Slot(i)) is { } id ? Local(kind, id) : -1);
            }
        }
        else w.U32(uint.MaxValue);
        // The rows, in local order; a row's references as local numbers (-1 - id for one outside the lists).
        int Ref(int kind, uint id) => local[kind].TryGetValue(id, out int n) ? n : -1 - (int)id;
        void Members(KmeshRange r, int kind)
        {
            w.U32(r.Count);
            for (uint i = 0; i < r.Count; i++) w.I32(ImageTables.At(t.Lists, r.First + i) is { } id ? Ref(kind, id) : int.MinValue);
        }
        foreach (uint id in matches) w.U128(rowHashes.Match(t, id));
        foreach (uint id in clauses) { if (ImageTables.At(t.Clauses, id) is { } c) Members(c, 0); else w.U32(uint.MaxValue); }
        foreach (uint id in rules) { if (ImageTables.At(t.Rules, id) is { } r) Members(r, 1); else w.U32(uint.MaxValue); }
        foreach (uint id in policies)
        {
            if (ImageTables.At(t.Policies, id) is not { } p) { w.U32(uint.MaxValue); continue; }
            w.U32(p.Action);
            w.U32(p.Flags);
            Members(new KmeshRange { First = p.RulesFirst, Count = p.RulesCount }, 2);
        }
        // The ids' relative order (the POLICY stage decides by the lowest id).
        foreach (var l in ids)
            foreach (int n in Enumerable.Range(0, l.Count).OrderBy(i => l[i])) w.I32(n);
        // Points, with the stage-port set by presence: its content is the named ports, below.
        w.U32((uint)points.Count);
        uint stageSet = 0;
        foreach (var (dst, keyPort, evalPort, stagePorts) in points)
        {
            w.U128(dst.Value);
            w.U32(dst.IsV6 ? 1u : 0u);
            w.U32(keyPort);
            w.U32(evalPort ?? uint.MaxValue);
            w.U32(evalPort is null ? 1u : 0u);
            w.U32(stagePorts != 0 ? 1u : 0u);
            if (stagePorts != 0)
            {
                if (stageSet != 0 && stageSet != stagePorts) throw new InvalidOperationException("an eval's points name two stage-port sets");
                stageSet = stagePorts;
            }
        }
        w.U32((uint)named.Count);
        foreach (uint p in named) w.U32(p);
        return new Shape([.. policies], stageSet, w.Hash());
    }

    /// <summary>The fingerprint of each match row (its flags, the ids of its source and identity sets,
    /// the content of its source, destination and port sets), computed once per compile: every eval
    /// that lists the row (all of them, for a mesh-wide block's) uses it.</summary>
    internal sealed class RowHashes
    {
        private readonly Dictionary<uint, UInt128> _matches = new();
        private readonly Dictionary<uint, UInt128> _addrSets = new();
        private readonly Dictionary<uint, UInt128> _portSets = new();

        public UInt128 Match(ImageTables t, uint id)
        {
            if (_matches.TryGetValue(id, out var h)) return h;
            var w = new Fingerprint();
            if (ImageTables.At(t.Matches, id) is not { } m) w.U32(uint.MaxValue);
            else
            {
                w.U32(m.Flags);
                w.U32(m.SrcSet);
                w.U32(m.NotSrcSet);
                w.U32(m.IdSet);
                w.U128(AddrSet(t, m.SrcSet));
                w.U128(AddrSet(t, m.NotSrcSet));
                w.U128(AddrSet(t, m.DstSet));
                w.U128(AddrSet(t, m.NotDstSet));
                w.U128(PortSet(t, m.PortSet));
                w.U128(PortSet(t, m.NotPortSet));
            }
            return _matches[id] = w.Hash();
        }

        private UInt128 AddrSet(ImageTables t, uint id) => SetHash(_addrSets, id, t.AddrSets, (w, p) =>
        {
            w.U128(p.Address.Value);
            w.U32((uint)p.Length | (p.Address.IsV6 ? 0x100u : 0));
        });

        private UInt128 PortSet(ImageTables t, uint id) => SetHash(_portSets, id, t.PortSets, (w, p) => w.U32(p));

        /// <summary>A set's content hash (count, then each member), once per set id and compile.</summary>
        private static UInt128 SetHash<TMember>(Dictionary<uint, UInt128> known, uint id, SortedDictionary<uint, List<TMember>> sets, Action<Fingerprint, TMember> member)
        {
            if (known.TryGetValue(id, out var h)) return h;
            var w = new Fingerprint();
            var l = id == 0 ? null : sets.GetValueOrDefault(id);
            w.I32(l?.Count ?? -1);
            foreach (var p in l ?? []) member(w, p);
            return known[id] = w.Hash();
        }
    }

    private sealed class Fingerprint
    {
        private readonly XxHash128 _hash = new();
        private readonly byte[] _buffer = new byte[16];

        public void U32(uint v) { BinaryPrimitives.WriteUInt32LittleEndian(_buffer, v); _hash.Append(_buffer.AsSpan(0, 4)); }
        public void I32(int v) => U32((uint)v);
        public void U128(UInt128 v) { BinaryPrimitives.WriteUInt128LittleEndian(_buffer, v); _hash.Append(_buffer); }
        public UInt128 Hash() => _hash.GetCurrentHashAsUInt128();
    }
}
