using System.Collections.Immutable;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;
using KmeshCompiler.Loader.Node;
using KmeshCompiler.Tests.Support;
using KmeshCompiler.Loader;
using KmeshCompiler.Loader.DataPlane;
using KmeshCompiler.Lowering;
using KmeshCompiler.Semantics;
using Kmeshc.Commands;

namespace KmeshCompiler.Tests.Kernel;

/// <summary>One regression test per known flaw of Kmesh's XDP authorization (dataplane.md), on
/// compiled images in the real kernel; each also checks agreement with the reference evaluator.</summary>
public sealed class KmeshFlawTests : IDisposable
{
    private static readonly SourceLocation None = SourceLocation.None;
    private readonly Lazy<DataPlane> _prog = new(() => DataPlane.Load());

    public void Dispose()
    {
        if (_prog.IsValueCreated) _prog.Value.Dispose();
    }

    private static Workload W(string ns, string name, string v4, string v6, string node = "n1") =>
        new($"Kubernetes//Pod/{ns}/{name}", name, ns, name, Workload.DefaultTrustDomain, [IpAddr.Parse(v4), IpAddr.Parse(v6)],
            node, "", Workload.DefaultClusterId, Locality.Empty, WorkloadHealth.Healthy, 1, [], [], None);

    private static readonly Workload Server = W("a", "server", "10.1.0.1", "fd01::1");
    private static readonly Workload ClientA = W("a", "client", "10.1.0.2", "fd01::2", "n2");
    private static readonly Workload ClientB = W("b", "client", "10.2.0.2", "fd02::2", "n2");

    private static World World(params Policy[] policies) => new Ir.World(
        [new Namespace("a", None), new Namespace("b", None)],
        [new Node("n1", Locality.Empty, "", None), new Node("n2", Locality.Empty, "", None)],
        [Server, ClientA, ClientB], [], [.. policies]).Canonical();

    private static Policy P(string name, PolicyAction action, params Rule[] rules) =>
        new(name, "a", PolicyScope.Namespace, action, false, [.. rules], None);

    private static Rule R(params Match[] clauseMatches) => new([.. clauseMatches.Select(m => new Clause([m], None))], None);

    private static Match M => Match.Empty(None);

    private static IpPrefix Pfx(string s) => IpPrefix.TryParse(s, out var p, out var e) ? p : throw new FormatException(e);

    /// <summary>Loads the image of n1 and returns (kernel decision, reference decision) per SYN.</summary>
    private (Ir.World World, ImageFile Image) Load(Ir.World world, LoweringLimits? limits = null)
    {
        var bag = new DiagnosticBag();
        var image = Lowerer.Lower(world, "n1", bag, limits) ?? throw new InvalidOperationException(string.Join("; ", bag.Sorted()));
        _prog.Value.Publish(image);
        return (world, image);
    }

    private Decision Syn((Ir.World World, ImageFile Image) loaded, Workload? src, string srcAddr, string dst, ushort port)
    {
        var ev = new Evaluator(loaded.World);
        var c = ev.ResolveIdentity(new Connection(IpAddr.Parse(srcAddr), IpAddr.Parse(dst), port, null));
        var got = KernelRun.Decide(_prog.Value, loaded.Image, c);
        var want = ev.Decide(c);
        Assert.Equal((want.Decision, want.Reason), (got.Decision, got.Reason));
        if (src is not null) Assert.Equal(src.Identity, c.SourceIdentity);
        return got.Decision;
    }

    [KernelFact]
    public void More_than_four_policies_and_more_than_four_list_entries_are_all_examined()
    {
        var policies = Enumerable.Range(1, 6).Select(i => P($"deny-{i}", PolicyAction.Deny, R(M with { DestinationPorts = [(uint)(9000 + i)] }))).ToList();
        policies.Add(P("deny-list", PolicyAction.Deny, R(M with { DestinationPorts = [.. Enumerable.Range(7001, 10).Select(p => (uint)p)] })));
        var blocks = Enumerable.Range(1, 7).Select(i => Pfx($"192.168.{i}.0/24")).Append(Pfx("10.2.0.2/32")).ToImmutableArray();
        policies.Add(P("deny-from", PolicyAction.Deny, R(M with { SourceIps = blocks, DestinationPorts = [6000] })));
        var l = Load(World([.. policies]));
        Assert.Equal(Decision.Deny, Syn(l, ClientA, "10.1.0.2", "10.1.0.1", 9006));
        Assert.Equal(Decision.Deny, Syn(l, ClientA, "10.1.0.2", "10.1.0.1", 7010));
        Assert.Equal(Decision.Allow, Syn(l, ClientA, "10.1.0.2", "10.1.0.1", 7011));
        Assert.Equal(Decision.Deny, Syn(l, ClientB, "10.2.0.2", "10.1.0.1", 6000));
        Assert.Equal(Decision.Allow, Syn(l, ClientA, "10.1.0.2", "10.1.0.1", 6000));
    }

    [KernelFact]
    public void A_matching_deny_wins_over_an_allow_listed_before_it()
    {
        var l = Load(World(
            P("aaa-allow-all", PolicyAction.Allow, new Rule([], None)),
            P("zzz-deny-b", PolicyAction.Deny, R(M with { SourceIps = [Pfx("10.2.0.0/16"), Pfx("fd02::/16")] }))));
        Assert.Equal(Decision.Deny, Syn(l, ClientB, "10.2.0.2", "10.1.0.1", 80));
        Assert.Equal(Decision.Deny, Syn(l, ClientB, "fd02::2", "fd01::1", 80));
        Assert.Equal(Decision.Allow, Syn(l, ClientA, "10.1.0.2", "10.1.0.1", 80));
    }

    [KernelFact]
    public void A_namespace_deny_drops_only_sources_of_that_namespace()
    {
        var l = Load(World(P("deny-ns-b", PolicyAction.Deny, R(M with { Namespaces = [new StringMatch(StringMatchKind.Exact, "b")] }))));
        Assert.Equal(Decision.Deny, Syn(l, ClientB, "10.2.0.2", "10.1.0.1", 80));
        Assert.Equal(Decision.Deny, Syn(l, ClientB, "fd02::2", "fd01::1", 80));
        Assert.Equal(Decision.Allow, Syn(l, ClientA, "10.1.0.2", "10.1.0.1", 80));
        Assert.Equal(Decision.Allow, Syn(l, null, "10.9.9.9", "10.1.0.1", 80)); // no identity: namespace ""
        var principals = Load(World(P("deny-principal", PolicyAction.Deny,
            R(M with { Principals = [new StringMatch(StringMatchKind.Exact, "cluster.local/ns/b/sa/client")] }))));
        Assert.Equal(Decision.Deny, Syn(principals, ClientB, "10.2.0.2", "10.1.0.1", 80));
        Assert.Equal(Decision.Allow, Syn(principals, ClientA, "fd01::2", "fd01::1", 80));
    }

    [KernelFact]
    public void Ipv6_rule_addresses_match()
    {
        var l = Load(World(
            P("deny-v6-src", PolicyAction.Deny, R(M with { SourceIps = [Pfx("fd02::/64")] })),
            P("deny-v6-dst", PolicyAction.Deny, R(M with { DestinationIps = [Pfx("fd01::1/128")], DestinationPorts = [22] }))));
        Assert.Equal(Decision.Deny, Syn(l, ClientB, "fd02::2", "fd01::1", 80));
        Assert.Equal(Decision.Allow, Syn(l, ClientA, "fd01::2", "fd01::1", 80));
        Assert.Equal(Decision.Deny, Syn(l, ClientA, "fd01::2", "fd01::1", 22));
        Assert.Equal(Decision.Allow, Syn(l, ClientA, "10.1.0.2", "10.1.0.1", 22)); // the IPv6 prefix never holds IPv4
    }

    [KernelFact]
    public void No_verdict_outlives_a_policy_change()
    {
        var open = Load(World());
        Assert.Equal(Decision.Allow, Syn(open, ClientB, "10.2.0.2", "10.1.0.1", 80));
        var closed = Load(World(P("deny-all", PolicyAction.Deny, new Rule([], None))));
        Assert.Equal(Decision.Deny, Syn(closed, ClientB, "10.2.0.2", "10.1.0.1", 80));
        var reopened = Load(World());
        Assert.Equal(Decision.Allow, Syn(reopened, ClientB, "10.2.0.2", "10.1.0.1", 80));
    }

    [KernelFact]
    public void Paths_that_cannot_finish_fail_closed()
    {
        var world = World(P("allow-a", PolicyAction.Allow, R(M with { Namespaces = [new StringMatch(StringMatchKind.Exact, "a")] })));
        var progs = _prog.Value.Map("km_progs");
        // With the decision table the entry decides alone: no stage is needed.
        var fast = Load(world);
        foreach (uint stage in new uint[] { 0, 1, 2, 3 }) progs.Delete(BitConverter.GetBytes(stage));
        try
        {
            Assert.Equal(Decision.Allow, Syn(fast, ClientA, "10.1.0.2", "10.1.0.1", 80));
            Assert.Equal(Decision.Deny, Syn(fast, null, "10.9.9.9", "10.1.0.1", 80));
        }
        finally
        {
            foreach (uint stage in new uint[] { 0, 1, 2, 3 }) progs.SetProgram(stage, _prog.Value.Objects.Program(Programs.Stages[stage]));
        }
        // The stages (what a SYN takes without a table) fail closed when one is missing.
        var l = Load(world, new LoweringLimits { DecisionTables = false });
        Assert.Equal(Decision.Allow, Syn(l, ClientA, "10.1.0.2", "10.1.0.1", 80));
        foreach (uint stage in new uint[] { 0, 1, 2, 3 })
        {
            progs.Delete(BitConverter.GetBytes(stage));
            try
            {
                var r = _prog.Value.Run(Packets.Syn(System.Net.IPAddress.Parse("10.1.0.2"), System.Net.IPAddress.Parse("10.1.0.1"), 80));
                Assert.Equal(XdpAction.Drop, r.XdpAction);
            }
            finally
            {
                progs.SetProgram(stage, _prog.Value.Objects.Program(Programs.Stages[stage]));
            }
        }
        // A SYN to a local workload that cannot be parsed is dropped, not passed.
        var syn = Packets.Syn(System.Net.IPAddress.Parse("10.1.0.2"), System.Net.IPAddress.Parse("10.1.0.1"), 80);
        Assert.Equal(XdpAction.Drop, _prog.Value.Run(syn[..^10]).XdpAction);
    }
}
