using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends.Xds;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Tests.Xds;

/// <summary>Each corner of xds.md, from a hand-written snapshot: the IR it gives and the diagnostics
/// (code, severity, resource name).</summary>
public class FixtureTests
{
    private static Policy Pol(World w, string key) => Assert.Single(w.Policies, p => p.Key == key);

    [Fact]
    public void Ports_are_read_packed_unpacked_and_mixed()
    {
        var w = Fixtures.Read("ports.pb.hex", out var bag);
        Assert.Empty(bag.Items);
        foreach (var name in new[] { "prod/unpacked", "prod/packed", "prod/mixed" })
        {
            var m = Assert.Single(Assert.Single(Assert.Single(Pol(w, name).Rules).Clauses).Matches);
            Assert.Equal([80u, 443u], m.DestinationPorts.ToArray());
            Assert.Equal([22u], m.NotDestinationPorts.ToArray());
            Assert.Equal(PolicyAction.Deny, Pol(w, name).Action);
            Assert.Equal(PolicyScope.Namespace, Pol(w, name).Scope);
        }
    }

    [Fact]
    public void A_five_byte_workload_address_rejects_that_workload()
    {
        var w = Fixtures.Read("corners.pb.hex", out var bag);
        var d = Fixtures.Single(bag, "KM5010", "Kubernetes//Pod/prod/five");
        Assert.Equal(Severity.Error, d.Severity);
        Assert.Equal("corners.pb", d.Location.File);
        Assert.Contains("5 bytes", d.Message);
        Assert.DoesNotContain(w.Workloads, x => x.Name == "five");
        var ok = Assert.Single(w.Workloads);
        Assert.Equal("Kubernetes//Pod/prod/ok", ok.Uid);
        Assert.Equal([IpAddr.Parse("10.0.0.2")], ok.Addresses.ToArray());
        Assert.Equal(4u, ok.Capacity);
        Assert.Equal("cluster.local", ok.TrustDomain);
        Assert.Equal("default", ok.ServiceAccount);
        Assert.Equal("Kubernetes", ok.ClusterId);
    }

    [Fact]
    public void A_removal_by_uid_removes_the_workload()
    {
        var w = Fixtures.Read("corners.pb.hex", out var bag);
        Assert.DoesNotContain(w.Workloads, x => x.Name == "gone");
        Assert.DoesNotContain(bag.Items, d => d.Code == "KM5014");
    }

    [Fact]
    public void An_unknown_action_rejects_that_policy_only()
    {
        var w = Fixtures.Read("corners.pb.hex", out var bag);
        var d = Fixtures.Single(bag, "KM5007", "prod/bad-action");
        Assert.Equal(Severity.Error, d.Severity);
        Assert.Contains("action", d.Message);
        Assert.Contains("5", d.Message);
        Assert.DoesNotContain(w.Policies, p => p.Name == "bad-action");
        Assert.Contains(w.Policies, p => p.Name == "lenient");
    }

    [Fact]
    public void A_string_match_without_variant_and_a_bad_match_address_are_dropped_with_warnings()
    {
        var w = Fixtures.Read("corners.pb.hex", out var bag);
        var sm = Fixtures.Single(bag, "KM5008", "prod/lenient");
        Assert.Equal(Severity.Warning, sm.Severity);
        Assert.Contains("rules[0].clauses[0].matches[0].principals", sm.Message);
        var ad = Fixtures.Single(bag, "KM5009", "prod/lenient");
        Assert.Equal(Severity.Warning, ad.Severity);
        Assert.Contains("source_ips", ad.Message);
        var m = Assert.Single(Assert.Single(Assert.Single(Pol(w, "prod/lenient").Rules).Clauses).Matches);
        Assert.Equal([new StringMatch(StringMatchKind.Exact, "cluster.local/ns/prod/sa/web")], m.Principals.ToArray());
        Assert.Equal([IpPrefix.Parse("10.0.0.0/8")], m.SourceIps.ToArray());
    }

    [Fact]
    public void An_any_of_unknown_type_is_skipped_with_a_warning_naming_it()
    {
        var w = Fixtures.Read("corners.pb.hex", out var bag);
        var d = Fixtures.Single(bag, "KM5005", "mystery");
        Assert.Equal(Severity.Warning, d.Severity);
        Assert.Contains("type.googleapis.com/example.Mystery", d.Message);

        var j = Fixtures.Read("unknown-type.json", out var jbag);
        var jd = Fixtures.Single(jbag, "KM5005", "outbound|80||web.prod.svc.cluster.local");
        Assert.Contains("envoy.config.cluster.v3.Cluster", jd.Message);
        Assert.Equal("Kubernetes//Pod/prod/ok", Assert.Single(j.Workloads).Uid);
        Assert.False(jbag.HasErrors);
    }

    [Fact]
    public void Binary_state_of_the_world_replaces_its_type()
    {
        var w = Fixtures.Read("state-of-the-world.pb.hex", out var bag);
        Assert.Empty(bag.Items);
        var p = Assert.Single(w.Policies);
        Assert.Equal("prod/new", p.Key);
        Assert.Equal(PolicyAction.Deny, p.Action);
    }

    [Fact]
    public void Json_state_of_the_world_replaces_its_type_and_reads_bare_workloads()
    {
        var w = Fixtures.Read("state-of-the-world.json", out var bag);
        Assert.Empty(bag.Items);
        Assert.Equal("prod/new", Assert.Single(w.Policies).Key);
        var wl = Assert.Single(w.Workloads);
        Assert.Equal(3u, wl.Capacity);
        Assert.Equal("cluster.local", wl.TrustDomain);
        Assert.Equal(new Locality("eu", "eu-1", ""), wl.Locality);
        var node = Assert.Single(w.Nodes);
        Assert.Equal(new Node("n1", new Locality("eu", "eu-1", ""), "", default), node with { Location = default });
        Assert.Equal(["prod"], w.Namespaces.Select(n => n.Name));
    }

    [Fact]
    public void Removals_apply_in_order_uid_first_then_namespace_hostname()
    {
        var w = Fixtures.Read("removals.json", out var bag);
        // "prod/x" names a workload uid and a service key: the workload goes, the service stays.
        Assert.Equal(["Kubernetes//Pod/prod/b"], w.Workloads.Select(x => x.Uid));
        Assert.Equal(["prod/x"], w.Services.Select(s => s.Key));
        Assert.Equal(["prod/p2"], w.Policies.Select(p => p.Key));
        var d = Fixtures.Single(bag, "KM5014", "prod/nope");
        Assert.Equal(Severity.Info, d.Severity);
        Assert.Single(bag.Items);
    }

    [Fact]
    public void Both_json_namings_of_the_authorization_levels_give_the_same_policy()
    {
        var z = Fixtures.Read("naming-ztunnel.json", out var zbag);
        var i = Fixtures.Read("naming-istio.json", out var ibag);
        var zd = Fixtures.Single(zbag, "KM5013", "prod/allow-web");
        var id = Fixtures.Single(ibag, "KM5013", "prod/allow-web");
        Assert.Equal(Severity.Info, zd.Severity);
        Assert.Contains("ztunnel", zd.Message);
        Assert.Contains("groups", id.Message);
        Assert.Single(zbag.Items);
        Assert.Single(ibag.Items);
        Assert.True(IrEquality.Equal(z, i), IrEquality.FirstDifference(z, i));
        var p = Assert.Single(z.Policies);
        Assert.Equal(2, p.Rules.Length);
        Assert.Empty(p.Rules[1].Clauses);
        var clauses = p.Rules[0].Clauses;
        Assert.Equal(2, clauses.Length);
        Assert.Equal([8080u], Assert.Single(clauses[0].Matches).DestinationPorts.ToArray());
        Assert.Equal(2, clauses[1].Matches.Length);
        Assert.Equal([new StringMatch(StringMatchKind.Prefix, "team-")], clauses[1].Matches[1].Namespaces.ToArray());
    }

    [Fact]
    public void Json_unknown_enum_values_reject_their_resource()
    {
        var w = Fixtures.Read("unknown-enum.json", out var bag);
        var action = Fixtures.Single(bag, "KM5007", "prod/bad-action");
        Assert.Contains("action", action.Message);
        Assert.Equal(("unknown-enum.json", 4, 5), (action.Location.File, action.Location.Line, action.Location.Column));
        Assert.Equal("prod/bad-action", action.Object);
        Assert.Contains("known: ALLOW=0, DENY=1", action.Message);
        var scope = Fixtures.Single(bag, "KM5007", "prod/bad-scope");
        Assert.Contains("scope", scope.Message);
        Assert.Equal((6, 5), (scope.Location.Line, scope.Location.Column));
        Assert.Equal(8, Assert.Single(w.Policies).Location.Line);
        Assert.Equal(["prod/good"], w.Policies.Select(p => p.Key));
    }

    [Fact]
    public void Json_string_match_without_variant_is_dropped()
    {
        var w = Fixtures.Read("string-match-no-variant.json", out var bag);
        Assert.Equal(2, bag.Items.Count(d => d.Code == "KM5008" && d.Location.Resource == "prod/p"));
        var m = Assert.Single(Assert.Single(Assert.Single(Assert.Single(w.Policies).Rules).Clauses).Matches);
        Assert.Equal([new StringMatch(StringMatchKind.Exact, "cluster.local/ns/prod/sa/web")], m.Principals.ToArray());
        Assert.Empty(m.NotNamespaces);
    }

    [Fact]
    public void Json_bad_address_lengths()
    {
        var w = Fixtures.Read("bad-address-length.json", out var bag);
        Fixtures.Single(bag, "KM5010", "Kubernetes//Pod/prod/five");
        Assert.Equal(["Kubernetes//Pod/prod/ok"], w.Workloads.Select(x => x.Uid));
        var drops = bag.Items.Where(d => d.Code == "KM5009" && d.Location.Resource == "prod/p").ToList();
        Assert.Equal(2, drops.Count); // 5 bytes; /33 on IPv4
        var m = Assert.Single(Assert.Single(Assert.Single(Assert.Single(w.Policies).Rules).Clauses).Matches);
        Assert.Equal([IpPrefix.Parse("10.0.0.0/8")], m.SourceIps.ToArray());
    }
}
