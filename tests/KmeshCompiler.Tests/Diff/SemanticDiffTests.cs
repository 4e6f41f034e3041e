using KmeshCompiler.Diff;
using KmeshCompiler.Ir;
using KmeshCompiler.Semantics;
using KmeshCompiler.Tests.Kubernetes;

namespace KmeshCompiler.Tests.Diff;

/// <summary>Equivalent rewrites are found equal; the smallest real differences are found, with the
/// exact region that changes.</summary>
public class SemanticDiffTests
{
    // foo/httpbin 10.0.1.1 (sa httpbin, app=httpbin), foo/other 10.0.1.2 (app=other),
    // bar/sleep 10.0.2.1 (sa sleep), baz/client 10.0.3.1 (sa default), and 10.0.1.3 which is nobody's.
    private const string Cluster = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: foo}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: bar}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: baz}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: istio-system}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: httpbin, namespace: foo, labels: {app: httpbin}}
        spec: {serviceAccountName: httpbin, nodeName: n1}
        status: {podIP: 10.0.1.1}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: other, namespace: foo, labels: {app: OTHER_LABEL}}
        spec: {serviceAccountName: other, nodeName: n1}
        status: {podIP: 10.0.1.2}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: sleep, namespace: bar}
        spec: {serviceAccountName: sleep, nodeName: n1}
        status: {podIP: 10.0.2.1}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: client, namespace: baz}
        spec: {nodeName: n1}
        status: {podIP: 10.0.3.1}

        """;

    private static World World(string policies, string otherLabel = "other")
    {
        var (w, bag) = Kube.Build(Cluster.Replace("OTHER_LABEL", otherLabel) + "---\n" + policies);
        Assert.False(bag.HasErrors, Kube.Dump(bag));
        return w;
    }

    private static string Pol(string name, string spec, string ns = "foo") => Kube.Policy(spec, name, ns) + "\n---\n";

    private static SemanticDiffResult Diff(string before, string after, string beforeLabel = "other", string afterLabel = "other") =>
        SemanticDiff.Compute(World(before, beforeLabel), World(after, afterLabel));

    private static void AssertEqual(string before, string after)
    {
        var r = Diff(before, after);
        Assert.True(r.Equal, "expected no change; got:\n" + string.Join("\n", r.Changes.Select(c => $"{string.Join(",", c.Destinations.Select(d => d.Name))} {c.Sources.Key} {string.Join(",", c.Ports)} {c.Before.Decision}->{c.After.Decision}")));
        // The other direction too.
        Assert.True(Diff(after, before).Equal);
    }

    private const string Selector = "  selector:\n    matchLabels:\n      app: httpbin\n";

    [Fact]
    public void CidrSplitInTwoHalvesIsEqual() => AssertEqual(
        Pol("a", Selector + "  rules:\n    - from:\n        - source:\n            ipBlocks: [\"10.0.0.0/16\"]\n"),
        Pol("a", Selector + "  rules:\n    - from:\n        - source:\n            ipBlocks: [\"10.0.0.0/17\", \"10.0.128.0/17\"]\n"));

    [Fact]
    public void PortListAsDestinationPortConditionIsEqual() => AssertEqual(
        Pol("a", Selector + "  rules:\n    - to:\n        - operation:\n            ports: [\"8080\", \"9090\"]\n"),
        Pol("a", Selector + "  rules:\n    - when:\n        - key: destination.port\n          values: [\"8080\", \"9090\"]\n"));

    [Fact]
    public void ReorderedAndRenamedPoliciesAreEqual() => AssertEqual(
        Pol("first", Selector + "  rules:\n    - to:\n        - operation:\n            ports: [\"8080\"]\n") +
        Pol("second", "  action: DENY\n  rules:\n    - from:\n        - source:\n            namespaces: [\"baz\"]\n"),
        Pol("zz-deny-baz", "  action: DENY\n  rules:\n    - from:\n        - source:\n            namespaces: [\"baz\"]\n") +
        Pol("aa-httpbin-8080", Selector + "  rules:\n    - to:\n        - operation:\n            ports: [\"8080\"]\n"));

    [Fact]
    public void L7OnlyDenyIsEqualToNoPolicy() => AssertEqual(
        Pol("l7", Selector + "  action: DENY\n  rules:\n    - to:\n        - operation:\n            methods: [\"GET\"]\n"),
        "");

    [Fact]
    public void L7OnlyAllowIsEqualToAllowNothing() => AssertEqual(
        Pol("l7", Selector + "  action: ALLOW\n  rules:\n    - to:\n        - operation:\n            paths: [\"/admin\"]\n"),
        Pol("nothing", Selector + "  action: ALLOW\n"));

    [Fact]
    public void NamespacesEqualTheirPrincipalWildcard() => AssertEqual(
        Pol("a", Selector + "  rules:\n    - from:\n        - source:\n            namespaces: [\"bar\"]\n"),
        Pol("a", Selector + "  rules:\n    - from:\n        - source:\n            principals: [\"cluster.local/ns/bar/sa/*\"]\n"));

    [Fact]
    public void IdenticalWorldsExamineNothing()
    {
        var p = Pol("a", Selector + "  rules:\n    - from:\n        - source:\n            namespaces: [\"bar\"]\n");
        var r = Diff(p, p);
        Assert.True(r.Equal);
        Assert.Equal(0, r.Stats.DestinationsExamined);
        Assert.Equal(0, r.Stats.Evaluations);
    }

    [Fact]
    public void OneHostCarvedOutOfASlash16()
    {
        var r = Diff(
            Pol("a", Selector + "  rules:\n    - from:\n        - source:\n            ipBlocks: [\"10.0.0.0/16\"]\n"),
            Pol("a", Selector + "  rules:\n    - from:\n        - source:\n            ipBlocks: [\"10.0.0.0/16\"]\n            notIpBlocks: [\"10.0.9.9\"]\n"));
        var c = Assert.Single(r.Changes);
        Assert.Equal("foo/httpbin", Assert.Single(c.Destinations).Name);
        Assert.Equal([new IpRange(IpAddr.Parse("10.0.9.9"), IpAddr.Parse("10.0.9.9"))], c.Sources.AnyAddress.ToArray());
        Assert.Empty(c.Sources.Workloads);
        Assert.Equal([new PortRange(0, 65535)], c.Ports.ToArray());
        Assert.Equal(Decision.Allow, c.Before.Decision);
        Assert.Equal(Decision.Deny, c.After.Decision);
        Assert.Equal("foo/a", Assert.Single(c.Before.Policies).Key);
    }

    [Fact]
    public void OneHostThatIsAWorkloadIsReportedByIdentity()
    {
        var r = Diff(
            Pol("a", Selector + "  rules:\n    - from:\n        - source:\n            ipBlocks: [\"10.0.0.0/16\"]\n"),
            Pol("a", Selector + "  rules:\n    - from:\n        - source:\n            ipBlocks: [\"10.0.0.0/16\"]\n            notIpBlocks: [\"10.0.2.1\"]\n"));
        var c = Assert.Single(r.Changes);
        // The host is bar/sleep's address: the only source in that range, so it is named by identity.
        Assert.Empty(c.Sources.AnyAddress);
        Assert.Empty(c.Sources.Outside);
        Assert.Equal("cluster.local/ns/bar/sa/sleep", Assert.Single(c.Sources.Workloads).IdentityText);
        Assert.Equal(Decision.Deny, c.After.Decision);
    }

    [Fact]
    public void OnePortAdded()
    {
        var r = Diff(
            Pol("a", Selector + "  rules:\n    - to:\n        - operation:\n            ports: [\"8080\"]\n"),
            Pol("a", Selector + "  rules:\n    - to:\n        - operation:\n            ports: [\"8080\", \"8081\"]\n"));
        var c = Assert.Single(r.Changes);
        Assert.Equal([new PortRange(8081, 8081)], c.Ports.ToArray());
        Assert.True(c.NewlyAllowed);
        Assert.Equal(2, c.Sources.AnyAddress.Length); // all of IPv4 and all of IPv6
        Assert.True(c.Sources.FromOutside);
    }

    [Fact]
    public void OneNamespaceAddedToAList()
    {
        var r = Diff(
            Pol("a", Selector + "  rules:\n    - from:\n        - source:\n            namespaces: [\"bar\"]\n"),
            Pol("a", Selector + "  rules:\n    - from:\n        - source:\n            namespaces: [\"bar\", \"baz\"]\n"));
        var c = Assert.Single(r.Changes);
        var src = Assert.Single(c.Sources.Workloads);
        Assert.Equal(IpAddr.Parse("10.0.3.1"), src.Address);
        Assert.Equal("cluster.local/ns/baz/sa/default", src.IdentityText);
        Assert.False(c.Sources.FromOutside);
        Assert.True(c.NewlyAllowed);
    }

    [Fact]
    public void OnePodRelabelledIntoASelector()
    {
        var p = Pol("a", Selector + "  rules:\n    - from:\n        - source:\n            namespaces: [\"bar\"]\n");
        var r = Diff(p, p, "other", "httpbin");
        Assert.NotEmpty(r.Changes);
        Assert.All(r.Changes, c => Assert.Equal("foo/other", Assert.Single(c.Destinations).Name));
        Assert.All(r.Changes, c => Assert.Equal(Decision.Deny, c.After.Decision));
        // Everyone but bar is newly denied; bar keeps its access.
        Assert.DoesNotContain(r.Changes.SelectMany(c => c.Sources.Workloads), w => w.Address == IpAddr.Parse("10.0.2.1"));
        Assert.Equal(1, r.Stats.ChangedWorkloads);
    }

    [Fact]
    public void APodMovingNamespaceChangesWhatItsAddressMayDo()
    {
        var p = Pol("a", Selector + "  rules:\n    - from:\n        - source:\n            namespaces: [\"bar\"]\n");
        var before = World(p);
        var after = before with { Workloads = [.. before.Workloads.Select(w => w.Name == "client" ? w with { Namespace = "bar" } : w)] };
        var r = SemanticDiff.Compute(before, after);
        var c = Assert.Single(r.Changes, c => c.Destinations.Any(d => d.Name == "foo/httpbin"));
        var src = Assert.Single(c.Sources.Workloads);
        Assert.Equal("cluster.local/ns/baz/sa/default -> cluster.local/ns/bar/sa/default", src.IdentityText);
        Assert.True(c.NewlyAllowed);
    }

    private static World With(World w, string name, Func<Workload, Workload> edit) =>
        w with { Workloads = [.. w.Workloads.Select(x => x.Name == name ? edit(x) : x)] };

    [Fact]
    public void ADestinationTheMeshDoesNotEnforceIsNotReportedWithItsEnforcedTwins()
    {
        // Every pod has the same candidate policy (the global DENY); foo/httpbin, the lowest address,
        // is not enrolled, so the DENY never applied to it and lifting it changes nothing there.
        var deny = Pol("deny-range", "  action: DENY\n  rules:\n    - from:\n        - source:\n            ipBlocks: [\"203.0.113.0/24\"]\n", "istio-system");
        var before = With(World(deny), "httpbin", w => w with { Enrolled = false });
        var after = With(World(""), "httpbin", w => w with { Enrolled = false });
        var c = Assert.Single(SemanticDiff.Compute(before, after).Changes);
        Assert.Equal(["bar/sleep", "baz/client", "foo/other"], c.Destinations.Select(d => d.Name).Order(StringComparer.Ordinal).ToArray());
        Assert.True(c.NewlyAllowed);
    }

    [Fact]
    public void EnrollingAPodPutsItsPoliciesInForce()
    {
        var p = Pol("a", Selector + "  rules:\n    - from:\n        - source:\n            namespaces: [\"bar\"]\n");
        var after = World(p);
        var before = With(after, "httpbin", w => w with { Enrolled = false });
        var r = SemanticDiff.Compute(before, after);
        Assert.NotEmpty(r.Changes);
        Assert.All(r.Changes, c => Assert.Equal("foo/httpbin", Assert.Single(c.Destinations).Name));
        Assert.All(r.Changes, c => Assert.Equal(Reasons.NotEnforced, c.Before.Reason));
        Assert.All(r.Changes, c => Assert.Equal(Decision.Deny, c.After.Decision));
        Assert.DoesNotContain(r.Changes.SelectMany(c => c.Sources.Workloads), w => w.Address == IpAddr.Parse("10.0.2.1"));
    }

    [Fact]
    public void APodMovedToTheHostNetworkLosesItsIdentityAsASource()
    {
        // bar/sleep may reach httpbin by identity; on the host network its traffic is plaintext.
        var p = Pol("a", Selector + "  rules:\n    - from:\n        - source:\n            principals: [\"cluster.local/ns/bar/sa/sleep\"]\n");
        var before = World(p);
        var after = With(before, "sleep", w => w with { NetworkMode = NetworkMode.HostNetwork });
        var c = Assert.Single(SemanticDiff.Compute(before, after).Changes);
        Assert.Equal("foo/httpbin", Assert.Single(c.Destinations).Name);
        var src = Assert.Single(c.Sources.Workloads);
        Assert.Equal(IpAddr.Parse("10.0.2.1"), src.Address);
        Assert.Equal("cluster.local/ns/bar/sa/sleep -> no identity", src.IdentityText);
        Assert.Equal(Decision.Allow, c.Before.Decision);
        Assert.Equal(Decision.Deny, c.After.Decision);
        Assert.Equal(1, SemanticDiff.Compute(before, after).Stats.ChangedSourceIdentities);
    }

    [Fact]
    public void RangesBecomeTheFewestCidrs()
    {
        var r = new IpRange(IpAddr.Parse("10.0.0.1"), IpAddr.Parse("10.0.0.6"));
        Assert.Equal("10.0.0.1/32, 10.0.0.2/31, 10.0.0.4/31, 10.0.0.6/32", r.ToString());
        Assert.Equal("0.0.0.0/0", new IpRange(IpAddr.V4(0), IpAddr.V4(uint.MaxValue)).ToString());
        Assert.Equal("::/0", new IpRange(new IpAddr(0, true), new IpAddr(UInt128.MaxValue, true)).ToString());
        Assert.Equal("::/1", new IpRange(new IpAddr(0, true), new IpAddr(UInt128.MaxValue >> 1, true)).ToString());
    }
}
