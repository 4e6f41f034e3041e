using System.Collections.Immutable;
using KmeshCompiler.Ir;
using KmeshCompiler.Semantics;

namespace KmeshCompiler.Tests.Semantics;

public class LoadBalancerTests
{
    private static readonly SourceLocation L = SourceLocation.None;
    private static readonly Node Client = new("n1", new Locality("r1", "z1", "s1"), "net1", L);

    private static Workload Ep(string name, string node, Locality loc, string network, WorkloadHealth h = WorkloadHealth.Healthy, uint cap = 1) => new(
        $"Kubernetes//Pod/ns/{name}", name, "ns", "default", "cluster.local", [IpAddr.Parse($"10.0.0.{name.Length + name[^1]}")], node, network,
        "Kubernetes", loc, h, cap, [new WorkloadServicePorts("ns/svc.ns.svc.cluster.local", [new ServicePort(80, 8080)])], [], L);

    private static Service Svc(LbMode mode, params LbScope[] scopes) => new("svc", "ns", "svc.ns.svc.cluster.local",
        [new NetworkAddress("", IpAddr.Parse("10.96.0.1"))], [new ServicePort(80, 8080)], new LoadBalancing([.. scopes], mode, HealthPolicy.OnlyHealthy), L);

    [Theory]
    // [NETWORK, REGION, ZONE]: 5 all equal, 4 network+region, 3 network only, 2 region+zone elsewhere, 1 region only, 0 nothing.
    [InlineData("net1", "r1", "z1", 5)]
    [InlineData("net1", "r1", "z2", 4)]
    [InlineData("net1", "r2", "z1", 3)]
    [InlineData("net2", "r1", "z1", 2)]
    [InlineData("net2", "r1", "z9", 1)]
    [InlineData("net2", "r9", "z1", 0)]
    public void Network_first_ranks_as_the_spec_example(string net, string region, string zone, int rank)
    {
        var w = Ep("a", "n2", new Locality(region, zone, ""), net);
        Assert.Equal(rank, LoadBalancer.Rank([LbScope.Network, LbScope.Region, LbScope.Zone], Client, w).Rank);
    }

    [Fact]
    public void Failover_keeps_the_best_rank_and_priorities_are_R_minus_rank()
    {
        var near = Ep("near", "n2", new Locality("r1", "z1", ""), "net1");
        var far = Ep("far", "n3", new Locality("r1", "z2", ""), "net1");
        var res = LoadBalancer.Resolve([near, far], Client, Svc(LbMode.Failover, LbScope.Network, LbScope.Region, LbScope.Zone), 80);
        Assert.Equal(5, res.MaxPriority);
        Assert.Equal(["near"], res.Selectable.Select(e => e.Workload.Name));
        Assert.Equal([0, 1], res.Endpoints.Select(e => e.Priority));
        Assert.All(res.Endpoints, e => Assert.Equal(8080u, e.Port));
    }

    [Fact]
    public void Strict_with_no_local_endpoint_selects_nothing()
    {
        var remote = Ep("r", "n2", Client.Locality, "net1");
        var res = LoadBalancer.Resolve([remote], Client, Svc(LbMode.Strict, LbScope.Node), 80);
        Assert.Empty(res.Selectable);
        Assert.Single(res.Endpoints);
    }

    [Fact]
    public void Unspecified_treats_every_healthy_endpoint_alike_and_skips_unhealthy()
    {
        var a = Ep("a", "n2", new Locality("x", "y", ""), "");
        var b = Ep("b", "n1", Client.Locality, "net1", WorkloadHealth.Unhealthy);
        var res = LoadBalancer.Resolve([a, b], Client, Svc(LbMode.Unspecified), 80);
        Assert.Equal(["a"], res.Selectable.Select(e => e.Workload.Name));
        Assert.All(res.Endpoints, e => Assert.Equal(0, e.Priority));
    }

    [Fact]
    public void Capacity_is_the_weight()
    {
        var a = Ep("a", "n1", Client.Locality, "net1", cap: 3);
        Assert.Equal(3u, LoadBalancer.Resolve([a], Client, Svc(LbMode.Unspecified), 80).Endpoints[0].Weight);
    }

    [Fact]
    public void Passthrough_selects_nothing()
    {
        var a = Ep("a", "n1", Client.Locality, "net1");
        Assert.Empty(LoadBalancer.Resolve([a], Client, Svc(LbMode.Passthrough), 80).Selectable);
    }
}
