using System.Collections.Immutable;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Tests.Xds;

/// <summary>Worlds for the snapshot tests: one hand-built world with every field kind, and a seeded
/// random generator. Nodes and namespaces are not on the wire, so every world here carries exactly
/// the ones a snapshot implies (<see cref="WithDerivedNodesAndNamespaces"/>).</summary>
public static class XdsWorlds
{
    private static readonly SourceLocation L = SourceLocation.None;

    public static World Rich()
    {
        var m1 = new Match(
            [new StringMatch(StringMatchKind.Exact, "prod"), new StringMatch(StringMatchKind.Prefix, "team-")],
            [new StringMatch(StringMatchKind.Suffix, "-test")],
            [new StringMatch(StringMatchKind.Presence, "")],
            [new StringMatch(StringMatchKind.Exact, "cluster.local/ns/x/sa/y")],
            [IpPrefix.Parse("10.0.0.1/24"), IpPrefix.Parse("2001:db8::1/64")],
            [IpPrefix.Parse("10.0.0.7")],
            [IpPrefix.Parse("0.0.0.0/0")],
            [IpPrefix.Parse("::/0")],
            [80, 443, 65535],
            [0],
            [new ServiceAccountMatch("prod", "web")],
            [new ServiceAccountMatch("", "")],
            L);
        var policies = ImmutableArray.Create(
            new Policy("deny-all", "istio-system", PolicyScope.Global, PolicyAction.Deny, false, [], L),
            new Policy("allow-web", "prod", PolicyScope.Namespace, PolicyAction.Allow, true,
                [new Rule([], L), new Rule([new Clause([], L), new Clause([m1, Match.Empty(L)], L)], L)], L),
            new Policy("sel", "prod", PolicyScope.WorkloadSelector, PolicyAction.Allow, false,
                [new Rule([new Clause([Match.Empty(L) with { DestinationPorts = [8080] }], L)], L)], L));
        var workloads = ImmutableArray.Create(
            new Workload("Kubernetes//Pod/prod/web-1", "web-1", "prod", "web", "cluster.local",
                [IpAddr.Parse("10.0.0.5"), IpAddr.Parse("2001:db8::5")], "node-a", "net1", "Kubernetes",
                new Locality("eu", "eu-1a", "rack1"), WorkloadHealth.Healthy, 1,
                [new WorkloadServicePorts("prod/web.prod.svc.cluster.local", [new ServicePort(80, 8080, AppProtocol.Http11), new ServicePort(443, 8443)])],
                ["prod/sel"], L),
            new Workload("Kubernetes//Pod/prod/web-2", "web-2", "prod", "default", "example.org",
                [IpAddr.Parse("10.0.0.6")], "node-b", "", "other", Locality.Empty, WorkloadHealth.Unhealthy, 0, [], [], L),
            new Workload("Kubernetes//Pod/db/db-0", "db-0", "db", "db", "cluster.local", [], "", "", "Kubernetes",
                Locality.Empty, WorkloadHealth.Healthy, 7, [], [], L));
        var services = ImmutableArray.Create(
            new Service("web", "prod", "web.prod.svc.cluster.local",
                [new NetworkAddress("", IpAddr.Parse("10.96.0.10")), new NetworkAddress("net1", IpAddr.Parse("fd00::10"))],
                [new ServicePort(80, 8080, AppProtocol.Http11), new ServicePort(443, 0, AppProtocol.Tls)],
                new LoadBalancing([LbScope.Region, LbScope.Zone, LbScope.Node], LbMode.Failover, HealthPolicy.AllowAll), L),
            new Service("db", "db", "db.db.svc.cluster.local", [], [], LoadBalancing.Default, L));
        return WithDerivedNodesAndNamespaces(new World([], [], workloads, services, policies));
    }

    /// <summary>The nodes and namespaces the snapshot reader derives (docs/xds.md).</summary>
    public static World WithDerivedNodesAndNamespaces(World w)
    {
        var nodes = new Dictionary<string, Node>(StringComparer.Ordinal);
        foreach (var x in w.Workloads.OrderBy(x => x.Uid, StringComparer.Ordinal))
            if (x.Node.Length > 0) nodes.TryAdd(x.Node, new Node(x.Node, x.Locality, "", L));
        var ns = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var x in w.Workloads) ns.Add(x.Namespace);
        foreach (var x in w.Services) ns.Add(x.Namespace);
        foreach (var x in w.Policies) ns.Add(x.Namespace);
        ns.Remove("");
        return (w with { Nodes = [.. nodes.Values], Namespaces = [.. ns.Select(n => new Namespace(n, L))] }).Canonical();
    }

    /// <summary>A seeded random world: every field kind, negatives, empty lists, both families,
    /// wildcards, dry run, selector attachments, load balancing.</summary>
    public static World Random(Random rng, int workloads = 12, int services = 5, int policies = 8)
    {
        string[] nss = ["prod", "dev", "istio-system", "a-b"];
        string[] nodesNames = ["n1", "n2", "n3", ""];
        var localities = new[] { Locality.Empty, new Locality("r1", "z1", ""), new Locality("r1", "z2", "s1"), new Locality("r2", "", "") };
        var nodeLoc = nodesNames.ToDictionary(n => n, _ => localities[rng.Next(localities.Length)]);
        string Ns() => nss[rng.Next(nss.Length)];
        IpAddr Addr(bool v6) => v6 ? new IpAddr(((UInt128)(ulong)rng.NextInt64() << 64) | (ulong)rng.NextInt64(), true) : IpAddr.V4((uint)rng.NextInt64(0, 1L << 32));
        ImmutableArray<T> List<T>(int max, Func<T> f) => [.. Enumerable.Range(0, rng.Next(max + 1)).Select(_ => f())];
        ServicePort Port() => new((uint)rng.Next(0, 65536), (uint)rng.Next(0, 65536), (AppProtocol)rng.Next(6));

        var svcs = Enumerable.Range(0, services).Select(i =>
        {
            string ns = Ns();
            return new Service($"svc{i}", ns, $"svc{i}.{ns}.svc.cluster.local",
                List(3, () => new NetworkAddress(rng.Next(3) == 0 ? "net1" : "", Addr(rng.Next(2) == 0))),
                List(3, Port),
                rng.Next(3) == 0 ? LoadBalancing.Default
                    : new LoadBalancing(List(4, () => (LbScope)rng.Next(1, 7)), (LbMode)rng.Next(4), (HealthPolicy)rng.Next(2)), L);
        }).ToImmutableArray();

        StringMatch Str() => rng.Next(4) switch
        {
            0 => new StringMatch(StringMatchKind.Exact, Ns()),
            1 => new StringMatch(StringMatchKind.Prefix, "p" + rng.Next(10)),
            2 => new StringMatch(StringMatchKind.Suffix, "/sa/" + rng.Next(10)),
            _ => new StringMatch(StringMatchKind.Presence, ""),
        };
        IpPrefix Prefix() { var a = Addr(rng.Next(3) == 0); return new IpPrefix(a, rng.Next(a.Bits + 1)); }
        ServiceAccountMatch Sa() => new(Ns(), "sa" + rng.Next(5));
        Match M() => rng.Next(6) == 0 ? Match.Empty(L) : new Match(
            List(2, Str), List(2, Str), List(2, Str), List(2, Str), List(2, Prefix), List(2, Prefix), List(2, Prefix), List(2, Prefix),
            List(3, () => (uint)rng.Next(65536)), List(2, () => (uint)rng.Next(65536)), List(2, Sa), List(2, Sa), L);
        var pols = Enumerable.Range(0, policies).Select(i =>
            new Policy($"p{i}", Ns(), (PolicyScope)rng.Next(3), (PolicyAction)rng.Next(2), rng.Next(4) == 0,
                List(3, () => new Rule(List(3, () => new Clause(List(3, M), L)), L)), L)).ToImmutableArray();
        var selectorKeys = pols.Where(p => p.Scope == PolicyScope.WorkloadSelector).Select(p => p.Key).ToArray();

        var wls = Enumerable.Range(0, workloads).Select(i =>
        {
            string ns = Ns();
            string node = nodesNames[rng.Next(nodesNames.Length)];
            return new Workload($"Kubernetes//Pod/{ns}/w{i}", $"w{i}", ns,
                rng.Next(3) == 0 ? "default" : "sa" + rng.Next(5), rng.Next(4) == 0 ? "example.org" : "cluster.local",
                List(2, () => Addr(rng.Next(3) == 0)), node, rng.Next(3) == 0 ? "net1" : "", rng.Next(5) == 0 ? "c2" : "Kubernetes",
                nodeLoc[node], (WorkloadHealth)rng.Next(2), (uint)rng.Next(0, 4),
                [.. svcs.Where(_ => rng.Next(3) == 0).Select(s => new WorkloadServicePorts(s.Key, List(2, Port)))],
                selectorKeys.Length == 0 ? [] : List(2, () => selectorKeys[rng.Next(selectorKeys.Length)]), L);
        }).ToImmutableArray();
        return WithDerivedNodesAndNamespaces(new World([], [], wls, svcs, pols));
    }
}
