using System.Collections.Immutable;
using KmeshCompiler.Ir;
using KmeshCompiler.Semantics;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Semantics;

public class EvaluatorTests
{
    private static readonly SourceLocation L = SourceLocation.None;
    private static readonly IpAddr Dst = IpAddr.Parse("10.0.0.10");
    private static readonly IpAddr Client = IpAddr.Parse("10.0.0.20");
    private static readonly IpAddr Stranger = IpAddr.Parse("192.168.1.1");

    private static Workload Wl(string ns, string name, string sa, IpAddr addr, params string[] attached) => new(
        $"Kubernetes//Pod/{ns}/{name}", name, ns, sa, "cluster.local", [addr], "node0", "", "Kubernetes",
        Locality.Empty, WorkloadHealth.Healthy, 1, [], [.. attached], L);

    private static Match M() => Match.Empty(L);

    private static Policy Pol(string name, PolicyAction action, params Rule[] rules) =>
        new(name, "app", PolicyScope.Namespace, action, false, [.. rules], L);

    private static Rule R(params Clause[] clauses) => new([.. clauses], L);

    private static Clause C(params Match[] matches) => new([.. matches], L);

    private static Evaluator World(params Policy[] policies) => new(new World([], [],
        [Wl("app", "server", "server", Dst), Wl("client", "client", "reader", Client)], [], [.. policies]));

    private static Verdict Decide(Evaluator ev, IpAddr src, ushort port = 8080) =>
        ev.Decide(ev.ResolveIdentity(new Connection(src, Dst, port, null)));

    [Fact]
    public void No_policies_allows()
    {
        var v = Decide(World(), Client);
        Assert.Equal((Decision.Allow, Reasons.NoAllowPolicies), (v.Decision, v.Reason));
    }

    [Fact]
    public void Unknown_destination_is_denied_as_workload_not_found()
    {
        var ev = World();
        var v = ev.Decide(new Connection(Client, Stranger, 80, null));
        Assert.Equal((Decision.Deny, Reasons.WorkloadNotFound), (v.Decision, v.Reason));
    }

    [Fact]
    public void Allow_policy_with_zero_rules_allows_nothing()
    {
        var v = Decide(World(Pol("empty", PolicyAction.Allow)), Client);
        Assert.Equal((Decision.Deny, Reasons.NoneAllowed), (v.Decision, v.Reason));
    }

    [Fact]
    public void Rule_with_zero_clauses_always_matches()
    {
        var v = Decide(World(Pol("all", PolicyAction.Allow, R())), Stranger);
        Assert.Equal((Decision.Allow, Reasons.AllowedByPolicy, "app/all"), (v.Decision, v.Reason, v.Policy?.Key));
    }

    [Fact]
    public void Clause_with_zero_matches_always_matches()
    {
        var v = Decide(World(Pol("p", PolicyAction.Allow, R(C()))), Stranger);
        Assert.Equal(Decision.Allow, v.Decision);
    }

    [Fact]
    public void Empty_match_never_matches_and_is_not_an_empty_clause()
    {
        var v = Decide(World(Pol("p", PolicyAction.Allow, R(C(M())))), Client);
        Assert.Equal((Decision.Deny, Reasons.NoneAllowed), (v.Decision, v.Reason));
    }

    [Fact]
    public void Deny_wins_over_an_earlier_allow()
    {
        var allow = Pol("a-allow", PolicyAction.Allow, R());
        var deny = Pol("z-deny", PolicyAction.Deny, R(C(M() with { DestinationPorts = [8080] })));
        var v = Decide(World(allow, deny), Client);
        Assert.Equal((Decision.Deny, Reasons.ExplicitlyDenied, "app/z-deny"), (v.Decision, v.Reason, v.Policy?.Key));
    }

    [Fact]
    public void Not_principals_admits_plaintext_clients()
    {
        var p = Pol("p", PolicyAction.Allow, R(C(M() with { NotPrincipals = [new StringMatch(StringMatchKind.Exact, "cluster.local/ns/client/sa/reader")] })));
        Assert.Equal(Decision.Allow, Decide(World(p), Stranger).Decision);
        Assert.Equal(Decision.Deny, Decide(World(p), Client).Decision);
    }

    [Fact]
    public void Namespaces_positive_fails_without_identity_and_negative_passes()
    {
        var pos = Pol("p", PolicyAction.Allow, R(C(M() with { Namespaces = [new StringMatch(StringMatchKind.Presence, "")] })));
        Assert.Equal(Decision.Deny, Decide(World(pos), Stranger).Decision);
        Assert.Equal(Decision.Allow, Decide(World(pos), Client).Decision);
        var neg = Pol("p", PolicyAction.Allow, R(C(M() with { NotNamespaces = [new StringMatch(StringMatchKind.Exact, "client")] })));
        Assert.Equal(Decision.Allow, Decide(World(neg), Stranger).Decision);
        Assert.Equal(Decision.Deny, Decide(World(neg), Client).Decision);
    }

    [Fact]
    public void Namespace_only_deny_does_not_drop_every_source()
    {
        // Kmesh's XDP counts a namespaces-only match as matched; it must depend on the source.
        var deny = Pol("d", PolicyAction.Deny, R(C(M() with { Namespaces = [new StringMatch(StringMatchKind.Exact, "client")] })));
        Assert.Equal(Decision.Deny, Decide(World(deny), Client).Decision);
        Assert.Equal(Decision.Allow, Decide(World(deny), Stranger).Decision);
    }

    [Fact]
    public void Spiffe_prefixed_principal_never_matches()
    {
        var p = Pol("p", PolicyAction.Allow, R(C(M() with { Principals = [new StringMatch(StringMatchKind.Exact, "spiffe://cluster.local/ns/client/sa/reader")] })));
        Assert.Equal(Decision.Deny, Decide(World(p), Client).Decision);
    }

    [Theory]
    [InlineData(StringMatchKind.Prefix, "cluster.local/ns/cli", true)]
    [InlineData(StringMatchKind.Suffix, "/sa/reader", true)]
    [InlineData(StringMatchKind.Suffix, "/sa/READER", false)]
    [InlineData(StringMatchKind.Exact, "cluster.local/ns/client/sa/reader", true)]
    [InlineData(StringMatchKind.Presence, "", true)]
    public void Principal_string_matches_are_case_sensitive(StringMatchKind kind, string value, bool allowed)
    {
        var p = Pol("p", PolicyAction.Allow, R(C(M() with { Principals = [new StringMatch(kind, value)] })));
        Assert.Equal(allowed ? Decision.Allow : Decision.Deny, Decide(World(p), Client).Decision);
    }

    [Fact]
    public void Service_accounts_ignore_the_trust_domain_and_need_an_identity()
    {
        var p = Pol("p", PolicyAction.Allow, R(C(M() with { ServiceAccounts = [new ServiceAccountMatch("client", "reader")] })));
        var ev = World(p);
        Assert.Equal(Decision.Allow, ev.Decide(new Connection(Client, Dst, 80, new Identity("other.td", "client", "reader"))).Decision);
        Assert.Equal(Decision.Deny, ev.Decide(new Connection(Client, Dst, 80, null)).Decision);
    }

    [Fact]
    public void Ports_compare_target_ports_and_clauses_are_anded()
    {
        var p = Pol("p", PolicyAction.Allow, R(
            C(M() with { DestinationPorts = [8080, 9090] }),
            C(M() with { SourceIps = [IpPrefix.Parse("10.0.0.1/24")] })));
        Assert.Equal(Decision.Allow, Decide(World(p), Client, 9090).Decision);
        Assert.Equal(Decision.Deny, Decide(World(p), Client, 80).Decision);
        Assert.Equal(Decision.Deny, Decide(World(p), Stranger, 8080).Decision);
    }

    [Fact]
    public void Ipv4_prefix_never_matches_ipv6_source()
    {
        var v6 = IpAddr.Parse("::ffff:10.0.0.20");
        var p = Pol("p", PolicyAction.Allow, R(C(M() with { SourceIps = [IpPrefix.Parse("0.0.0.0/0")] })));
        Assert.Equal(Decision.Deny, Decide(World(p), v6).Decision);
    }

    [Fact]
    public void Dry_run_policies_are_reported_but_never_decide()
    {
        var dry = Pol("dry", PolicyAction.Deny, R()) with { DryRun = true };
        var v = Decide(World(dry), Client);
        Assert.Equal((Decision.Allow, Reasons.NoAllowPolicies), (v.Decision, v.Reason));
        Assert.True(Assert.Single(v.DryRun).Matched);
    }

    [Fact]
    public void Selector_policies_apply_only_where_attached_and_global_everywhere()
    {
        var sel = new Policy("sel", "app", PolicyScope.WorkloadSelector, PolicyAction.Deny, false, [R()], L);
        var glob = new Policy("g", "istio-system", PolicyScope.Global, PolicyAction.Allow, false, [R(C(M() with { DestinationPorts = [1] }))], L);
        var attached = new Evaluator(new World([], [], [Wl("app", "server", "s", Dst, "app/sel")], [], [sel, glob]));
        var detached = new Evaluator(new World([], [], [Wl("app", "server", "s", Dst)], [], [sel, glob]));
        Assert.Equal(Reasons.ExplicitlyDenied, attached.Decide(new Connection(Client, Dst, 1, null)).Reason);
        Assert.Equal(Reasons.AllowedByPolicy, detached.Decide(new Connection(Client, Dst, 1, null)).Reason);
        Assert.Equal(Reasons.NoneAllowed, detached.Decide(new Connection(Client, Dst, 2, null)).Reason);
    }

    [Fact]
    public void Explanation_traces_every_level()
    {
        var p = Pol("p", PolicyAction.Allow, R(C(M(), M() with { DestinationPorts = [80] })));
        var ev = World(p);
        var e = ev.Explain(new Connection(Client, Dst, 8080, null));
        var pt = Assert.Single(e.Policies);
        Assert.False(pt.Matched);
        var mt = pt.Rules[0].Clauses[0].Matches;
        Assert.Contains("empty match", mt[0].Detail);
        Assert.Contains("port 8080 is not in [80]", mt[1].Detail);
    }

    [Fact]
    public void Short_circuit_and_traced_evaluation_agree_on_generated_worlds()
    {
        var rng = new Random(20261121);
        for (int i = 0; i < 300; i++)
        {
            var w = WorldGen.World(rng);
            var ev = new Evaluator(w);
            for (int k = 0; k < 20; k++)
            {
                var c = WorldGen.Connection(rng, w);
                var v = ev.Decide(c);
                var e = ev.Explain(c);
                var enforced = e.Policies.Where(p => p.Role != "dry-run").ToList();
                bool denyHit = enforced.Any(p => p.Role == "deny" && p.Matched);
                bool anyAllow = enforced.Any(p => p.Role == "allow");
                bool allowHit = enforced.Any(p => p.Role == "allow" && p.Matched);
                var expected = v.Destination is null ? Decision.Deny
                    : denyHit ? Decision.Deny : !anyAllow ? Decision.Allow : allowHit ? Decision.Allow : Decision.Deny;
                Assert.Equal(expected, v.Decision);
            }
        }
    }
}
