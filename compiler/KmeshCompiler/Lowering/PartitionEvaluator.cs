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
        // Row states by id: 0 not listed (reads as false, as a missing bit does), 1 false, 2 true,
        // 3 + i dependent row i.
        static int State(bool? f, int index) => f is null ? 3 + index : f.Value ? 2 : 1;
        static (bool? Fixed, int Index) Read(int[] states, uint id) =>
            id >= states.Length ? (false, -1) : states[id] switch { 0 or 1 => (false, -1), 2 => (true, -1), var x => (null, x - 3) };
        var match = new int[t.Matches.Length];
        for (uint i = 0; i < lists.Match.Count; i++)
        {
            uint mid = t.Lists[lists.Match.Slot(i)];
            if (match[mid] != 0) continue;
            var m = t.Matches[mid];
            bool? f = fixedOutcome(mid, m);
            int index = -1;
            if (f is null) { index = _matches.Count; _matches.Add((mid, m)); }
            match[mid] = State(f, index);
            rows++;
        }
        var clause = new int[t.Clauses.Length];
        var deps = new List<int>();
        for (uint i = 0; i < lists.Clause.Count; i++)
        {
            uint cid = t.Lists[lists.Clause.Slot(i)];
            if (clause[cid] != 0) continue;
            var c = t.Clauses[cid];
            bool? f = c.Count == 0 ? true : null;
            deps.Clear();
            for (uint k = 0; k < c.Count && f is null; k++)
            {
                var (mf, mi) = Read(match, t.Lists[c.First + k]);
                if (mf == true) f = true;
                else if (mf is null) deps.Add(mi);
            }
            rows += 1 + c.Count;
            if (f is null && deps.Count == 0) f = false;
            int index = -1;
            if (f is null) { index = _clauses.Count; _clauses.Add([.. deps]); }
            clause[cid] = State(f, index);
        }
        var rule = new int[t.Rules.Length];
        for (uint i = 0; i < lists.Rule.Count; i++)
        {
            uint rid = t.Lists[lists.Rule.Slot(i)];
            if (rule[rid] != 0) continue;
            var r = t.Rules[rid];
            bool? f = null;
            deps.Clear();
            for (uint k = 0; k < r.Count && f is null; k++)
            {
                var (cf, ci) = Read(clause, t.Lists[r.First + k]);
                if (cf == false) f = false;
                else if (cf is null) deps.Add(ci);
            }
            rows += 1 + r.Count;
            if (f is null && deps.Count == 0) f = true;
            int index = -1;
            if (f is null) { index = _rules.Count; _rules.Add([.. deps]); }
            rule[rid] = State(f, index);
        }
        for (uint i = 0; i < lists.Policy.Count; i++)
        {
            uint pid = t.Lists[lists.Policy.Slot(i)];
            var p = t.Policies[pid];
            bool? f = p.RulesCount == 0 ? false : null;
            deps.Clear();
            for (uint k = 0; k < p.RulesCount && f is null; k++)
            {
                var (rf, ri) = Read(rule, t.Lists[p.RulesFirst + k]);
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

    // The baseline of DecideChanged: a source's match, clause, rule and policy values, its matched
    // policies in walk order, its verdict; and each dependent row's parents.
    private bool[]? _baseM, _baseC, _baseR, _baseP;
    private List<(int Position, uint Id, bool DryRun, bool Deny)>? _baseHits;
    private KernelVerdict? _baseline;
    private List<int>[]? _matchParents, _clauseParents, _ruleParents;

    /// <summary>Decides <paramref name="passes"/>'s source and keeps it as the baseline that
    /// <see cref="DecideChanged"/> starts from.</summary>
    public KernelVerdict Baseline(Func<uint, KmeshMatch, bool> passes)
    {
        var v = Decide(passes);
        if (_error is not null) return v;
        _baseM = (bool[])_m!.Clone();
        _baseC = (bool[])_c!.Clone();
        _baseR = (bool[])_r!.Clone();
        _baseP = [.. _policies.Select(p => p.Rules.Any(x => _baseR[x]))];
        _baseHits = [.. _lastHits!];
        _baseline = v;
        if (_matchParents is null)
        {
            _matchParents = [.. _matches.Select(_ => new List<int>())];
            _clauseParents = [.. _clauses.Select(_ => new List<int>())];
            _ruleParents = [.. _rules.Select(_ => new List<int>())];
            for (int i = 0; i < _clauses.Count; i++) foreach (int x in _clauses[i]) _matchParents[x].Add(i);
            for (int i = 0; i < _rules.Count; i++) foreach (int x in _rules[i]) _clauseParents![x].Add(i);
            for (int i = 0; i < _policies.Count; i++) foreach (int x in _policies[i].Rules) _ruleParents![x].Add(i);
        }
        return v;
    }

    /// <summary>The verdict of a source that differs from the baseline's only in the dependent matches
    /// <paramref name="changed"/> (indices into <see cref="Dependent"/>), which
    /// <paramref name="passes"/> decides: only those matches and the rows above them are evaluated.
    /// Exactly <see cref="Decide"/>'s result for that source.</summary>
    public KernelVerdict DecideChanged(IEnumerable<int> changed, Func<uint, KmeshMatch, bool> passes)
    {
        if (_error is not null) return _error;
        if (_baseline is null) throw new InvalidOperationException("no baseline");
        var mv = new Dictionary<int, bool>();
        foreach (int i in changed)
        {
            bool v = passes(_matches[i].Id, _matches[i].Row);
            if (v != _baseM![i]) mv[i] = v;
        }
        if (mv.Count == 0) return _baseline;
        bool M(int i) => mv.TryGetValue(i, out bool v) ? v : _baseM![i];
        var cv = new Dictionary<int, bool>();
        foreach (int i in mv.Keys)
            foreach (int c in _matchParents![i])
                if (!cv.ContainsKey(c)) cv[c] = _clauses[c].Any(M);
        bool C(int i) => cv.TryGetValue(i, out bool v) ? v : _baseC![i];
        var rv = new Dictionary<int, bool>();
        foreach (int c in cv.Keys)
            foreach (int r in _clauseParents![c])
                if (!rv.ContainsKey(r)) rv[r] = _rules[r].All(C);
        bool R(int i) => rv.TryGetValue(i, out bool v) ? v : _baseR![i];
        var pv = new Dictionary<int, bool>();
        foreach (int r in rv.Keys)
            foreach (int p in _ruleParents![r])
                if (!pv.ContainsKey(p)) pv[p] = _policies[p].Rules.Any(R);
        var flipped = pv.Where(kv => kv.Value != _baseP![kv.Key]).ToList();
        if (flipped.Count == 0) return _baseline;
        var hits = new List<(int Position, uint Id, bool DryRun, bool Deny)>(_baseHits!);
        foreach (var (p, on) in flipped)
        {
            var (pos, id, dry, deny, _) = _policies[p];
            if (on) hits.Add((pos, id, dry, deny));
            else hits.RemoveAll(h => h.Position == pos);
        }
        hits.Sort((x, y) => x.Position.CompareTo(y.Position));
        return Verdict(hits);
    }

    private List<(int Position, uint Id, bool DryRun, bool Deny)>? _lastHits;

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
        _lastHits = hits;
        return Verdict(hits);
    }

    /// <summary>The POLICY stage's decision over the matched policies, in walk order.</summary>
    private KernelVerdict Verdict(List<(int Position, uint Id, bool DryRun, bool Deny)> hits)
    {
        uint? deny = null, allow = null;
        var matched = ImmutableArray.CreateBuilder<uint>(hits.Count);
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
