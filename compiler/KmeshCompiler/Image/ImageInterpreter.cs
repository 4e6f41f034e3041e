using System.Collections.Immutable;
using KmeshCompiler.Ir;
using KmeshCompiler.Lowering;

namespace KmeshCompiler.Image;

public enum KernelAction { NotEvaluated, Pass, Drop }

/// <summary>What the XDP programs do with a SYN. Verdict is a KMESH_VERDICT_* code (meaningless when
/// not evaluated); Policy is the deciding policy id when there is one. PolicyMatched lists every
/// policy whose matched/dry_run_matched counter the packet increments.</summary>
public sealed record KernelVerdict(KernelAction Action, uint Verdict, uint? Policy, ImmutableArray<uint> PolicyMatched, int TailCalls, uint MaxSteps, string? Error = null);

/// <summary>Which backends a connect to a service address can be rewritten to: every slot of the
/// chosen priority (a weight-w endpoint appears w times). Rewritten is false when the connection
/// keeps its destination (not a service, PASSTHROUGH, or nothing selectable).</summary>
public sealed record LbSelection(bool IsService, uint Mode, bool Rewritten, int Priority, ImmutableArray<(IpAddr Address, uint Port, uint Backend)> Slots);

/// <summary>Evaluates packets by walking an image's tables exactly as the BPF programs do: the same
/// lookups in the same order with the same bounds (docs/dataplane-layout.md). Differential tests hold
/// it against the reference evaluator; kernel tests hold the programs against it.</summary>
/// <remarks>With <paramref name="fastPath"/> (the default) an eval flagged KMESH_EVAL_DECISIONS is
/// decided by its decision table first, as the entry program does; without it every packet takes the
/// stages, which the table falls back to.</remarks>
public sealed class ImageInterpreter(ImageTables tables, uint maxStageSteps = Layout.MaxStageSteps, bool fastPath = true)
{
    public ImageTables Tables { get; } = tables;

    public ImageInterpreter(ImageFile image, bool fastPath = true) : this(new ImageTables(image), Layout.MaxStageSteps, fastPath) { }

    public bool FastPath { get; } = fastPath;

    /// <summary>KMESH_MAX_STAGE_STEPS as this interpreter enforces it.</summary>
    public uint MaxStageSteps => maxStageSteps;

    public KernelVerdict Syn(IpAddr src, IpAddr dst, uint port)
    {
        var t = Tables;
        // Entry program: the decision table first.
        if (src.IsV6 != dst.IsV6 || !t.Decisions.Index.MayBeLocal(dst.Value))
            return new KernelVerdict(KernelAction.NotEvaluated, 0, null, [], 0, 0);
        var identity = t.IdentityOf(src);
        if (FastPath && t.Decisions.Lookup(dst, port, src, identity) is { } d && DecisionTable.Verdict(d) is { } fast)
            return fast;
        if (!t.Workloads.TryGetValue(dst, out var wl))
            return new KernelVerdict(KernelAction.NotEvaluated, 0, null, [], 0, 0);
        uint evalId = t.PortIndex.TryGetValue((wl.WorkloadId, port), out var e) ? e : wl.EvalId;
        if (ImageTables.At(t.Evals, evalId) is not { } eval) return Error("eval row missing", 0, 0);
        if (t.ListsOf(eval) is not { } lists) return Error("shared block row missing", 0, 0);
        // No candidate policy: decided in the entry program, without a tail call.
        if (lists.Policy.Count == 0)
            return (eval.Flags & Layout.EvalHasAllow) != 0
                ? new KernelVerdict(KernelAction.Drop, Layout.VerdictDenyNoneAllow, null, [], 0, 0)
                : new KernelVerdict(KernelAction.Pass, Layout.VerdictAllowNoAllow, null, [], 0, 0);
        return Stages(eval, (_, m) => MatchPasses(m, src, identity, dst, port));
    }

    /// <summary>The four stages over one eval (its own lists, then its shared block's),
    /// <paramref name="passes"/> deciding each match (by id and row): the bottom-up walk of the stage
    /// programs with their bounds.</summary>
    public KernelVerdict Stages(in KmeshEval eval, Func<uint, KmeshMatch, bool> passes)
    {
        var t = Tables;
        if (t.ListsOf(eval) is not { } lists) return Error("shared block row missing", 0, 0);
        // A stage whose list is empty writes and reads no bits: the programs skip it (no tail call).
        int tailCalls = 0;
        uint maxSteps = 0;
        var matchBits = new HashSet<uint>();
        var clauseBits = new HashSet<uint>();
        var ruleBits = new HashSet<uint>();

        // MATCH stage.
        if (lists.Match.Count > 0) tailCalls++;
        uint steps = 0;
        for (uint i = 0; i < lists.Match.Count; i++)
        {
            if (++steps > maxStageSteps) return Error("match stage out of steps", tailCalls, steps);
            if (ImageTables.At(t.Lists, lists.Match.Slot(i)) is not { } mid || ImageTables.At(t.Matches, mid) is not { } m)
                return Error("match row missing", tailCalls, steps);
            if (passes(mid, m)) matchBits.Add(mid);
        }
        maxSteps = Math.Max(maxSteps, steps);

        // CLAUSE stage: OR of its matches; no matches: true.
        if (lists.Clause.Count > 0) tailCalls++;
        steps = 0;
        for (uint i = 0; i < lists.Clause.Count; i++)
        {
            if (++steps > maxStageSteps) return Error("clause stage out of steps", tailCalls, steps);
            if (ImageTables.At(t.Lists, lists.Clause.Slot(i)) is not { } cid || ImageTables.At(t.Clauses, cid) is not { } c)
                return Error("clause row missing", tailCalls, steps);
            bool any = c.Count == 0;
            for (uint k = 0; k < c.Count; k++)
            {
                if (++steps > maxStageSteps) return Error("clause stage out of steps", tailCalls, steps);
                if (ImageTables.At(t.Lists, c.First + k) is not { } mid) return Error("list slot missing", tailCalls, steps);
                if (matchBits.Contains(mid)) any = true;
            }
            if (any) clauseBits.Add(cid);
        }
        maxSteps = Math.Max(maxSteps, steps);

        // RULE stage: AND of its clauses; no clauses: true.
        if (lists.Rule.Count > 0) tailCalls++;
        steps = 0;
        for (uint i = 0; i < lists.Rule.Count; i++)
        {
            if (++steps > maxStageSteps) return Error("rule stage out of steps", tailCalls, steps);
            if (ImageTables.At(t.Lists, lists.Rule.Slot(i)) is not { } rid || ImageTables.At(t.Rules, rid) is not { } r)
                return Error("rule row missing", tailCalls, steps);
            bool all = true;
            for (uint k = 0; k < r.Count; k++)
            {
                if (++steps > maxStageSteps) return Error("rule stage out of steps", tailCalls, steps);
                if (ImageTables.At(t.Lists, r.First + k) is not { } cid) return Error("list slot missing", tailCalls, steps);
                if (!clauseBits.Contains(cid)) all = false;
            }
            if (all) ruleBits.Add(rid);
        }
        maxSteps = Math.Max(maxSteps, steps);

        // POLICY stage: own list, then the block's; no rules: never matches. The matched enforced
        // DENY with the lowest id decides, else the ALLOW with the lowest id (ids are in name order).
        tailCalls++;
        steps = 0;
        uint? deny = null, allow = null;
        var matched = ImmutableArray.CreateBuilder<uint>();
        for (uint i = 0; i < lists.Policy.Count; i++)
        {
            if (++steps > maxStageSteps) return Error("policy stage out of steps", tailCalls, steps);
            if (ImageTables.At(t.Lists, lists.Policy.Slot(i)) is not { } pid || ImageTables.At(t.Policies, pid) is not { } p)
                return Error("policy row missing", tailCalls, steps);
            bool any = false;
            for (uint k = 0; k < p.RulesCount; k++)
            {
                if (++steps > maxStageSteps) return Error("policy stage out of steps", tailCalls, steps);
                if (ImageTables.At(t.Lists, p.RulesFirst + k) is not { } rid) return Error("list slot missing", tailCalls, steps);
                if (ruleBits.Contains(rid)) any = true;
            }
            if (!any) continue;
            matched.Add(pid);
            if ((p.Flags & Layout.PolicyDryRun) != 0) continue;
            if (p.Action == Layout.ActionDeny) deny = Math.Min(deny ?? uint.MaxValue, pid);
            else allow = Math.Min(allow ?? uint.MaxValue, pid);
        }
        maxSteps = Math.Max(maxSteps, steps);
        var list = matched.ToImmutable();
        if (deny is not null) return new KernelVerdict(KernelAction.Drop, Layout.VerdictDenyPolicy, deny, list, tailCalls, maxSteps);
        if ((eval.Flags & Layout.EvalHasAllow) == 0) return new KernelVerdict(KernelAction.Pass, Layout.VerdictAllowNoAllow, null, list, tailCalls, maxSteps);
        if (allow is not null) return new KernelVerdict(KernelAction.Pass, Layout.VerdictAllowPolicy, allow, list, tailCalls, maxSteps);
        return new KernelVerdict(KernelAction.Drop, Layout.VerdictDenyNoneAllow, null, list, tailCalls, maxSteps);
    }

    private static KernelVerdict Error(string why, int tailCalls, uint steps) =>
        new(KernelAction.Drop, Layout.VerdictError, null, [], tailCalls, steps, why);

    private bool MatchPasses(in KmeshMatch m, IpAddr src, KmeshIdentity identity, IpAddr dst, uint port)
    {
        var t = Tables;
        if ((m.Flags & Layout.MatchNever) != 0) return false;
        if (m.SrcSet != 0 && !t.InSet(m.SrcSet, src)) return false;
        if (m.NotSrcSet != 0 && t.InSet(m.NotSrcSet, src)) return false;
        if (m.DstSet != 0 && !t.InSet(m.DstSet, dst)) return false;
        if (m.NotDstSet != 0 && t.InSet(m.NotDstSet, dst)) return false;
        if (m.PortSet != 0 && !t.InPortSet(m.PortSet, port)) return false;
        if (m.NotPortSet != 0 && t.InPortSet(m.NotPortSet, port)) return false;
        if (m.IdSet != 0 && t.InIdSet(m.IdSet, (m.Flags & Layout.MatchIdByNs) != 0 ? identity.Ns : identity.Id) == ((m.Flags & Layout.MatchIdNegate) != 0)) return false;
        return true;
    }

    /// <summary>What cgroup/connect4 or connect6 does with a connect to <paramref name="vip"/>:
    /// <paramref name="port"/> (the service port).</summary>
    public LbSelection Connect(IpAddr vip, uint port)
    {
        var t = Tables;
        if (!t.Services.TryGetValue((vip, port), out var svc)) return new LbSelection(false, 0, false, -1, []);
        if (svc.Mode == Layout.LbPassthrough) return new LbSelection(true, svc.Mode, false, -1, []);
        var counts = Rows.Counts(svc);
        int prio = -1;
        if (svc.Mode == Layout.LbFailover)
        {
            for (int p = 0; p < Layout.Priorities; p++) if (counts[p] > 0) { prio = p; break; }
        }
        else if (counts[0] > 0) prio = 0; // STRICT and UNSPECIFIED use priority 0 only.
        if (prio < 0) return new LbSelection(true, svc.Mode, false, -1, []);
        var slots = ImmutableArray.CreateBuilder<(IpAddr, uint, uint)>();
        for (uint i = 0; i < counts[prio]; i++)
        {
            if (!t.Endpoints.TryGetValue((svc.ServiceId, (uint)prio, i), out uint bid) || !t.Backends.TryGetValue(bid, out var b))
                return new LbSelection(true, svc.Mode, false, prio, []);
            var (a, bp) = Rows.Backend(b);
            slots.Add((a, bp, bid));
        }
        return new LbSelection(true, svc.Mode, true, prio, slots.ToImmutable());
    }
}
