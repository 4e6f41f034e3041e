using System.Net;
using KmeshCompiler.Loader.Node;
using KmeshCompiler.Tests.Support;
using KmeshCompiler.Loader;
using KmeshCompiler.Loader.DataPlane;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;
using KmeshCompiler.Lowering;
using KmeshCompiler.Semantics;
using Kmeshc.Commands;

namespace KmeshCompiler.Tests.Kernel;

/// <summary>The programs at the limits the compiler enforces: every stage at KMESH_MAX_STAGE_STEPS and
/// the match table full. The verifier accepted the programs when the object loaded (it checks them
/// for every input); these runs show that a packet needing the whole budget still finishes and
/// decides, with the same four tail calls as a packet needing none.</summary>
public sealed class WorstCaseTests
{
    [KernelFact]
    public void Every_stage_at_the_step_budget_finishes_and_decides()
    {
        using var prog = DataPlane.Load();
        var t = new HandTables();
        uint portSet = t.PortSet(1);
        int matches = (int)Layout.MaxMatches;
        var ids = new uint[matches];
        for (int i = 0; i < matches; i++) ids[i] = t.Match(new KmeshMatch { PortSet = portSet });
        uint clause = t.Clause(ids[..(matches - 1)]);                 // 1 + 65535 steps
        uint falseRule = t.Rule(clause);
        uint trueRule = t.Rule();
        int policies = (int)(Layout.MaxStageSteps / 2) - 1;           // 2 steps each
        var pids = new List<uint>();
        for (int i = 0; i < policies - 1; i++) pids.Add(t.Policy(Layout.ActionAllow, false, falseRule));
        uint last = t.Policy(Layout.ActionDeny, false, trueRule);
        pids.Add(last);
        uint eval = t.RawEval(true, ids, [clause], [falseRule, trueRule], [.. pids]);
        t.Workload(IPAddress.Parse("10.0.0.1"), 0, eval);
        prog.Fill(t.Contents());

        prog.ClearScratch();
        var r = prog.Run(Packets.Syn(IPAddress.Parse("10.9.0.1"), IPAddress.Parse("10.0.0.1"), 80));
        Assert.Equal(XdpAction.Drop, r.XdpAction);
        Assert.Equal((Layout.VerdictDenyPolicy, last), prog.LastDecision());
        Assert.Equal(0UL, prog.VerdictCount(Layout.VerdictError));
    }

    [KernelFact]
    public void A_compiled_workload_with_a_thousand_policies_is_evaluated_in_full()
    {
        var none = SourceLocation.None;
        var server = new Workload("Kubernetes//Pod/big/server", "server", "big", "default", Workload.DefaultTrustDomain,
            [IpAddr.Parse("10.10.0.1"), IpAddr.Parse("fd10::1")], "n1", "", Workload.DefaultClusterId, Locality.Empty, WorkloadHealth.Healthy, 1, [], [], none);
        var policies = Enumerable.Range(0, 1000).Select(i => new Policy($"allow-{i:D4}", "big", PolicyScope.Namespace, PolicyAction.Allow, false,
            [new Rule([new Clause([Match.Empty(none) with { SourceIps = [IpPrefix.Host(IpAddr.Parse($"10.20.{i / 256}.{i % 256}")), IpPrefix.Host(IpAddr.Parse($"fd20::{i:x}"))] }], none)], none)], none)).ToList();
        policies.Add(new Policy("zz-deny-last", "big", PolicyScope.Namespace, PolicyAction.Deny, false,
            [new Rule([new Clause([Match.Empty(none) with { SourceIps = [IpPrefix.Host(IpAddr.Parse("10.20.3.231"))] }], none)], none)], none));
        var world = new Ir.World([new Namespace("big", none)], [new Node("n1", Locality.Empty, "", none)], [server], [], [.. policies]).Canonical();
        var bag = new DiagnosticBag();
        var image = Lowerer.Lower(world, "n1", bag);
        Assert.True(image is not null, string.Join("; ", bag.Sorted()));
        using var prog = DataPlane.Load();
        prog.Publish(image!);
        var ev = new Evaluator(world);
        foreach (var (src, dst, decision, policy) in new[]
        {
            ("10.20.3.230", "10.10.0.1", Decision.Allow, "big/allow-0998"),
            ("fd20::3e7", "fd10::1", Decision.Allow, "big/allow-0999"),
            ("10.20.3.231", "10.10.0.1", Decision.Deny, "big/zz-deny-last"),
            ("10.20.9.9", "10.10.0.1", Decision.Deny, null),
        })
        {
            var c = ev.ResolveIdentity(new Connection(IpAddr.Parse(src), IpAddr.Parse(dst), 8080, null));
            var got = KernelRun.Decide(prog, image!, c);
            Assert.Equal((decision, policy), (got.Decision, got.Policy));
            Assert.Equal(ev.Decide(c).Reason, got.Reason);
            Assert.Equal(1001, got.Policies.Count);
        }
    }
}
