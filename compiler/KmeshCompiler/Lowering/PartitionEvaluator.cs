using System.Collections.Immutable;
using KmeshCompiler.Image;

namespace KmeshCompiler.Lowering;

/// <summary>The stage walk of one eval for one destination and port, specialised to what still
/// depends on the source. Built once per partition from the matches whose outcome the destination and
/// port already fix; each source region or class then evaluates only the matches, clauses, rules and
/// policies that depend on it. It returns exactly the verdict, deciding policy and matched list (in
/// walk order) of <see cref="ImageInterpreter.Stages"/>, whose failures (a missing row, a stage over
/// its step budget) do not depend on the source either: it finds them while it is built.</summary>
internal sealed class PartitionEvaluator
{
    private readonly KernelVerdict? _error;
    private readonly uint _flags;
    private List<(uint Id, KmeshMatch Row)> _matches = new();
    // Clause, rule and policy rows that depend on the source: their dependent members (by index
    // into the previous level's dependent rows).
    private List<int[]> _clauses = new();
    private List<int[]> _rules = new();
    /// <summary>Policies that match whatever the source, and those that depend on it (with the
    /// dependent rules any of which makes them match), each in walk order with its position.</summary>
    private readonly List<(int Position, uint Id, bool DryRun, bool Deny)> _always = new();
    private List<(int Position, uint Id, bool DryRun, bool Deny, int[] Rules)> _policies = new();

    private bool[]? _m, _c, _r;

    /// <summary>The matches whose outcome can change a verdict: the source tests that matter.</summary>
    public IReadOnlyList<(uint Id, KmeshMatch Row)> Dependent => _matches;

    /// <summary>Rows the construction walked plus rows each decision walks: the unit of the
    /// compile-time work budget.</summary>
    public long BuildRows { get; }

    public int RowsPerDecision => _matches.Count + _clauses.Count + _rules.Count + _policies.Count + _always.Count;

    /// <param name="fixedOutcome">A match's outcome when the destination and port decide it (true or
    /// false), null when it depends on the source.</param>
    public PartitionEvaluator(ImageTables t, uint maxStageSteps, in KmeshEval eval, Func<uint, KmeshMatch, bool?> fixedOutcome)
    {
        _flags = eval.Flags;
        _error = Failure(t, maxStageSteps, eval);
        if (_error is not null) return;
        var lists = t.ListsOf(eval)!.Value;
        long rows = 0;
        var match = new Dictionary<uint, (bool? Fixed, int Index)>();
        for (uint i = 0; i < lists.Match.Count; i++)
        {
            uint mid = t.Lists[lists.Match.Slot(i)];
            if (match.ContainsKey(mid)) continue;
            var m = t.Matches[mid];
            bool? f = fixedOutcome(mid, m);
            int index = -1;
            if (f is null) { index = _matches.Count; _matches.Add((mid, m)); }
            match[mid] = (f, index);
            rows++;
        }
        var clause = new Dictionary<uint, (bool? Fixed, int Index)>();
        for (uint i = 0; i < lists.Clause.Count; i++)
        {
            uint cid = t.Lists[lists.Clause.Slot(i)];
            if (clause.ContainsKey(cid)) continue;
            var c = t.Clauses[cid];
            bool? f = c.Count == 0 ? true : null;
            var deps = new List<int>();
            for (uint k = 0; k < c.Count && f is null; k++)
            {
                var (mf, mi) = match.GetValueOrDefault(t.Lists[c.First + k], (false, -1));
                if (mf == true) f = true;
                else if (mf is null) deps.Add(mi);
            }
            rows += 1 + c.Count;
            if (f is null && deps.Count == 0) f = false;
            int index = -1;
            if (f is null) { index = _clauses.Count; _clauses.Add([.. deps]); }
            clause[cid] = (f, index);
        }
        var rule = new Dictionary<uint, (bool? Fixed, int Index)>();
        for (uint i = 0; i < lists.Rule.Count; i++)
        {
            uint rid = t.Lists[lists.Rule.Slot(i)];
            if (rule.ContainsKey(rid)) continue;
            var r = t.Rules[rid];
            bool? f = null;
            var deps = new List<int>();
            for (uint k = 0; k < r.Count && f is null; k++)
            {
                var (cf, ci) = clause.GetValueOrDefault(t.Lists[r.First + k], (false, -1));
                if (cf == false) f = false;
                else if (cf is null) deps.Add(ci);
            }
            rows += 1 + r.Count;
            if (f is null && deps.Count == 0) f = true;
            int index = -1;
            if (f is null) { index = _rules.Count; _rules.Add([.. deps]); }
            rule[rid] = (f, index);
        }
        for (uint i = 0; i < lists.Policy.Count; i++)
        {
            uint pid = t.Lists[lists.Policy.Slot(i)];
            var p = t.Policies[pid];
            bool? f = p.RulesCount == 0 ? false : null;
            var deps = new List<int>();
            for (uint k = 0; k < p.RulesCount && f is null; k++)
            {
                var (rf, ri) = rule.GetValueOrDefault(t.Lists[p.RulesFirst + k], (false, -1));
                if (rf == true) f = true;
                else if (rf is null) deps.Add(ri);
            }
            rows += 1 + p.RulesCount;
            if (f is null && deps.Count == 0) f = false;
            bool dry = (p.Flags & Layout.PolicyDryRun) != 0, deny = p.Action == Layout.ActionDeny;
            if (f == true) _always.Add(((int)i, pid, dry, deny));
            else if (f is null) _policies.Add(((int)i, pid, dry, deny, [.. deps]));
        }
        BuildRows = rows;
        Prune();
    }

    /// <summary>Keeps only the dependent rows a dependent policy reaches: a match whose clause or rule
    /// is already false (a port test in another clause, say) cannot change anything.</summary>
    private void Prune()
    {
        var rules = new Dictionary<int, int>();
        var clauses = new Dictionary<int, int>();
        var matches = new Dictionary<int, int>();
        int Map(Dictionary<int, int> d, int x) => d.TryGetValue(x, out int y) ? y : d[x] = d.Count;
        var policies = _policies.Select(p => p with { Rules = [.. p.Rules.Select(r => Map(rules, r))] }).ToList();
        var newRules = new int[rules.Count][];
        foreach (var (old, idx) in rules) newRules[idx] = [.. _rules[old].Select(c => Map(clauses, c))];
        var newClauses = new int[clauses.Count][];
        foreach (var (old, idx) in clauses) newClauses[idx] = [.. _clauses[old].Select(m => Map(matches, m))];
        var newMatches = new (uint, KmeshMatch)[matches.Count];
        foreach (var (old, idx) in matches) newMatches[idx] = _matches[old];
        _policies = policies;
        _rules = [.. newRules];
        _clauses = [.. newClauses];
        _matches = [.. newMatches];
    }

    /// <summary>What <see cref="ImageInterpreter.Stages"/> fails with for this eval (the same for every
    /// source), or null: a missing block, list slot or row, or a stage over its steps.</summary>
    private static KernelVerdict? Failure(ImageTables t, uint maxStageSteps, in KmeshEval eval)
    {
        static KernelVerdict Error(string why) => new(KernelAction.Drop, Layout.VerdictError, null, [], 0, 0, why);
        if (t.ListsOf(eval) is not { } lists) return Error("shared block row missing");
        bool Slot(uint slot, out uint v)
        {
            v = slot < t.Lists.Length ? t.Lists[slot] : 0;
            return slot < t.Lists.Length;
        }
        long steps = lists.Match.Count;
        if (steps > maxStageSteps) return Error("match stage out of steps");
        for (uint i = 0; i < lists.Match.Count; i++)
            if (!Slot(lists.Match.Slot(i), out uint mid) || mid >= t.Matches.Length) return Error("match row missing");
        KernelVerdict? Groups(StageList l, KmeshRange[] rows, string stage)
        {
            long n = 0;
            for (uint i = 0; i < l.Count; i++)
            {
                if (!Slot(l.Slot(i), out uint id) || id >= rows.Length) return Error(stage + " row missing");
                n += 1 + rows[id].Count;
                for (uint k = 0; k < rows[id].Count; k++) if (!Slot(rows[id].First + k, out _)) return Error("list slot missing");
            }
            return n > maxStageSteps ? Error(stage + " stage out of steps") : null;
        }
        if ((Groups(lists.Clause, t.Clauses, "clause") ?? Groups(lists.Rule, t.Rules, "rule")) is { } e) return e;
        steps = 0;
        for (uint i = 0; i < lists.Policy.Count; i++)
        {
            if (!Slot(lists.Policy.Slot(i), out uint pid) || pid >= t.Policies.Length) return Error("policy row missing");
            steps += 1 + t.Policies[pid].RulesCount;
            for (uint k = 0; k < t.Policies[pid].RulesCount; k++) if (!Slot(t.Policies[pid].RulesFirst + k, out _)) return Error("list slot missing");
        }
        return steps > maxStageSteps ? Error("policy stage out of steps") : null;
    }

    /// <summary>The verdict of a source for which <paramref name="passes"/> decides the matches that
    /// depend on it.</summary>
    public KernelVerdict Decide(Func<uint, KmeshMatch, bool> passes)
    {
        if (_error is not null) return _error;
        // One evaluator decides one partition, one source at a time: its buffers are reused.
        var m = _m ??= new bool[_matches.Count];
        for (int i = 0; i < m.Length; i++) m[i] = passes(_matches[i].Id, _matches[i].Row);
        var c = _c ??= new bool[_clauses.Count];
        for (int i = 0; i < c.Length; i++)
        {
            c[i] = false;
            foreach (int x in _clauses[i]) if (m[x]) { c[i] = true; break; }
        }
        var r = _r ??= new bool[_rules.Count];
        for (int i = 0; i < r.Length; i++)
        {
            r[i] = true;
            foreach (int x in _rules[i]) if (!c[x]) { r[i] = false; break; }
        }
        uint? deny = null, allow = null;
        var matched = ImmutableArray.CreateBuilder<uint>();
        // The matched policies in walk order: the ones that always match merged with the dependent
        // ones that do.
        var hits = new List<(int Position, uint Id, bool DryRun, bool Deny)>(_always.Count + 4);
        int a = 0;
        foreach (var (pos, pid, pdry, pdeny, rules) in _policies)
        {
            bool hit = false;
            foreach (int x in rules) if (r[x]) { hit = true; break; }
            if (!hit) continue;
            while (a < _always.Count && _always[a].Position < pos) hits.Add(_always[a++]);
            hits.Add((pos, pid, pdry, pdeny));
        }
        while (a < _always.Count) hits.Add(_always[a++]);
        foreach (var (_, id, dry, isDeny) in hits)
        {
            matched.Add(id);
            if (dry) continue;
            if (isDeny) deny = Math.Min(deny ?? uint.MaxValue, id);
            else allow = Math.Min(allow ?? uint.MaxValue, id);
        }
        var list = matched.ToImmutable();
        if (deny is not null) return new KernelVerdict(KernelAction.Drop, Layout.VerdictDenyPolicy, deny, list, Layout.TailCalls, 0);
        if ((_flags & Layout.EvalHasAllow) == 0) return new KernelVerdict(KernelAction.Pass, Layout.VerdictAllowNoAllow, null, list, Layout.TailCalls, 0);
        if (allow is not null) return new KernelVerdict(KernelAction.Pass, Layout.VerdictAllowPolicy, allow, list, Layout.TailCalls, 0);
        return new KernelVerdict(KernelAction.Drop, Layout.VerdictDenyNoneAllow, null, list, Layout.TailCalls, 0);
    }
}
