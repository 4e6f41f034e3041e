using KmeshCompiler.Benchmarks;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Frontends.Xds;
using KmeshCompiler.Ir;
using KmeshCompiler.Lowering;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Lowering;

/// <summary>The realistic-cluster generator of tests/Benchmarks (compiled into this project from there):
/// seeded, its switches do what they say, and its worlds are valid inputs that compile.</summary>
public class RealisticClusterTests
{
    private static readonly RealisticClusterOptions Small = new() { Pods = 2000, Namespaces = 50 };

    private static byte[] Bytes(World w) => SnapshotWriter.Write(w, SnapshotFormat.Binary);

    [Fact]
    public void TheSameSeedGivesTheSameWorldAndAnotherSeedAnother()
    {
        var o = Small with { DualStack = true, NamespaceGlobs = true, Scattered = true };
        Assert.Equal(Bytes(RealisticCluster.Generate(o)), Bytes(RealisticCluster.Generate(o)));
        Assert.NotEqual(Bytes(RealisticCluster.Generate(o)), Bytes(RealisticCluster.Generate(o with { Seed = 2 })));
    }

    [Fact]
    public void TheShapeIsTheMultiTenantOne()
    {
        var w = RealisticCluster.Generate(Small);
        Assert.Equal(2000, w.Workloads.Length);
        Assert.Equal(50 + 3, w.Namespaces.Length);
        Assert.Equal(10, w.Nodes.Length); // one node per 200 pods
        Assert.Equal(3, w.Nodes.Select(n => n.Locality.Zone).Distinct().Count());
        var nodes = w.Nodes.ToDictionary(n => n.Name);
        Assert.All(w.Workloads, x => Assert.Equal(nodes[x.Node].Locality, x.Locality));
        Assert.All(w.Services, s => Assert.Equal(3, s.Ports.Length));
        Assert.All(RealisticCluster.Generate(Small with { ServicePorts = 5 }).Services.Where(s => s.Namespace.StartsWith("tenant-", StringComparison.Ordinal)),
            s => Assert.Equal(5, s.Ports.Select(p => p.TargetPort).Distinct().Count()));
        // Deployments of 2-20 replicas, one service account (and Service) per app.
        var apps = w.Workloads.Where(x => x.Namespace.StartsWith("tenant-", StringComparison.Ordinal)).GroupBy(x => (x.Namespace, x.ServiceAccount)).ToList();
        Assert.All(apps, a => Assert.InRange(a.Count(), 2, 20));
        Assert.All(apps, a => Assert.Single(a.SelectMany(x => x.Services).Select(s => s.ServiceKey).Distinct()));
        Assert.Contains(w.Workloads, x => x.Identity.ToString() == RealisticCluster.IngressPrincipal);
        Assert.Contains(w.Workloads, x => x.Namespace == RealisticCluster.MonitoringNamespace);
        foreach (var ns in w.Namespaces.Select(n => n.Name).Where(n => n.StartsWith("tenant-", StringComparison.Ordinal)))
        {
            var names = w.Policies.Where(p => p.Namespace == ns).Select(p => p.Name).ToList();
            Assert.Contains("allow-same-namespace", names);
            Assert.Contains("allow-ingress", names);
            Assert.Contains("allow-monitoring", names);
            Assert.InRange(names.Count(n => n.StartsWith("allow-tenant-", StringComparison.Ordinal) && n.Contains("-to-", StringComparison.Ordinal)), 1, 5);
        }
        int denies = w.Policies.Count(p => p.Name == "deny-blocked-ranges");
        Assert.InRange(denies, 5, 25); // 30% of 50
        // Selector policies are attached to the workloads of the app they name.
        var attached = w.Workloads.SelectMany(x => x.AuthorizationPolicies).ToHashSet();
        Assert.All(w.Policies.Where(p => p.Scope == PolicyScope.WorkloadSelector), p => Assert.Contains(p.Key, attached));
    }

    [Fact]
    public void DualStackGivesEveryPodAndServiceAnIpv6Address()
    {
        var single = RealisticCluster.Generate(Small);
        Assert.All(single.Workloads, x => Assert.False(x.Addresses.Single().IsV6));
        Assert.DoesNotContain(single.Services.SelectMany(s => s.Addresses), a => a.Address.IsV6);
        var dual = RealisticCluster.Generate(Small with { DualStack = true });
        Assert.All(dual.Workloads, x => Assert.Equal([false, true], x.Addresses.Select(a => a.IsV6)));
        Assert.All(dual.Services, s => Assert.Contains(s.Addresses, a => a.Address.IsV6));
        Assert.Contains(dual.Policies, p => p.Rules.SelectMany(r => r.Clauses).SelectMany(c => c.Matches).SelectMany(m => m.SourceIps).Any(x => x.Address.IsV6));
    }

    [Fact]
    public void NamespaceGlobsGiveOneGlobRulePerTenant()
    {
        static int Globs(World w) => w.Policies.Count(p => p.Namespace.StartsWith("tenant-", StringComparison.Ordinal) &&
            p.Rules.SelectMany(r => r.Clauses).SelectMany(c => c.Matches).SelectMany(m => m.Namespaces).Any(s => s.Kind == StringMatchKind.Prefix && s.Value.StartsWith("tenant-", StringComparison.Ordinal)));
        Assert.Equal(0, Globs(RealisticCluster.Generate(Small)));
        Assert.Equal(50, Globs(RealisticCluster.Generate(Small with { NamespaceGlobs = true })));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(12)]
    [InlineData(300)]
    public void MeshWideKGivesKRootNamespacePolicies(int k)
    {
        var w = RealisticCluster.Generate(Small with { MeshWide = k });
        var mesh = w.Policies.Where(p => p.Namespace == RealisticCluster.RootNamespace).ToList();
        Assert.Equal(k, mesh.Count);
        Assert.All(mesh, p => Assert.Equal(PolicyScope.Global, p.Scope));
        Assert.Equal(k, w.Policies.Count(p => p.Scope == PolicyScope.Global));
        // No two alike (beyond their names).
        Assert.Equal(k, mesh.Select(p => Bytes(World.Empty with { Policies = [p with { Name = "x" }] })).Select(Convert.ToBase64String).Distinct().Count());
        if (k > 0)
            Assert.Contains(mesh, p => p.Action == PolicyAction.Deny && p.Rules[0].Clauses[0].Matches[0].NotPrincipals.SingleOrDefault()?.Kind == StringMatchKind.Presence);
    }

    [Fact]
    public void DenseAddressesArePackedAndScatteredOnesSpreadOverTheNodeRange()
    {
        var o = Small with { DualStack = true };
        foreach (bool scattered in new[] { false, true })
        {
            var w = RealisticCluster.Generate(o with { Scattered = scattered });
            foreach (var g in w.Workloads.GroupBy(x => x.Node))
            {
                int node = int.Parse(g.Key["node-".Length..]);
                var v4 = g.Select(x => (uint)x.Addresses[0].Value).Order().ToList();
                var offsets = v4.Select(a => a - (0x0A800000u + (uint)node * 512)).ToList();
                Assert.All(offsets, x => Assert.InRange(x, 1u, 510u)); // inside the node's /23
                var v6 = g.Select(x => x.Addresses[1].Value).ToList();
                Assert.All(v6, a => Assert.Equal(0xfd00_0010_0000_0000ul | (uint)node, (ulong)(a >> 64))); // inside the node's /64
                if (!scattered)
                {
                    Assert.Equal(Enumerable.Range(1, g.Count()).Select(i => (uint)i), offsets);
                    Assert.Equal(offsets.Select(x => (UInt128)x), v6.Select(a => a & ulong.MaxValue).Order());
                }
                else
                {
                    Assert.True(offsets[^1] > g.Count() + 20, $"{g.Key}: offsets not scattered");
                    Assert.True(v6.Max(a => a & ulong.MaxValue) > uint.MaxValue, $"{g.Key}: v6 interface ids not scattered");
                }
            }
            Assert.Equal(w.Workloads.Length, w.Workloads.SelectMany(x => x.Addresses).Distinct().Count() / 2);
        }
    }

    [Fact]
    public void ATwoThousandPodWorldValidatesAndCompilesForItsBusiestNodeFromItsSnapshot()
    {
        var world = RealisticCluster.Generate(Small with { DualStack = true, NamespaceGlobs = true, Scattered = true });
        string node = RealisticCluster.BusiestNode(world);
        int local = world.Workloads.Count(w => w.Node == node);
        Assert.All(world.Workloads.GroupBy(w => w.Node), g => Assert.True(g.Count() <= local));

        string dir = Directory.CreateTempSubdirectory("kmesh-realistic").FullName;
        try
        {
            string snap = Path.Combine(dir, "world.pb"), img = Path.Combine(dir, "node.img");
            RealisticCluster.WriteSnapshot(world, snap);
            var loaded = InputLoader.Load([snap], FrontendSettings.Default);
            Assert.Empty(loaded.Diagnostics.Items);
            Assert.Null(IrEquality.FirstDifference(world, loaded.World));

            var bag = new DiagnosticBag();
            var image = Lowerer.Lower(world, node, bag);
            Assert.False(bag.HasErrors, string.Join("\n", bag.Items));
            Assert.NotNull(image);
            var r = CliRunner.Run("compile", snap, "--node", node, "-o", img);
            Assert.Equal(0, r.Exit);
            Assert.Equal(image.ToBytes(), File.ReadAllBytes(img));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void SampledTriplesAreRealSynsToTheNode()
    {
        var world = RealisticCluster.Generate(Small with { DualStack = true });
        string node = RealisticCluster.BusiestNode(world);
        var triples = RealisticCluster.SampleTriples(world, node, 500, 7);
        Assert.True(triples.SequenceEqual(RealisticCluster.SampleTriples(world, node, 500, 7)));
        Assert.Equal(500, triples.Length);
        var owner = world.Workloads.SelectMany(w => w.Addresses.Select(a => (a, w))).ToDictionary(x => x.a, x => x.w);
        Assert.All(triples, t => Assert.Equal(node, owner[t.Destination].Node));
        Assert.All(triples, t => Assert.Equal(t.Destination.IsV6, t.Source.IsV6));
        Assert.Contains(triples, t => t.Destination.IsV6);
        int unknown = triples.Count(t => !owner.ContainsKey(t.Source));
        Assert.InRange(unknown, 5, 60); // about 5%
        int real = triples.Count(t => owner[t.Destination].Services.SelectMany(s => s.Ports).Any(p => p.TargetPort == t.Port));
        Assert.InRange(real, 400, 490); // about 90%
    }

    [Fact]
    public void SwitchesParseAndBadValuesAreRefused()
    {
        var o = RealisticClusterOptions.Parse(["--pods", "300000", "--namespaces", "1000", "--nodes", "1500", "--dual-stack", "--ns-globs", "--mesh-wide", "300", "--service-ports", "4", "--scattered", "--seed", "9", "--runs", "3"], out var rest, out var error);
        Assert.Null(error);
        Assert.Equal(new RealisticClusterOptions { Pods = 300_000, Namespaces = 1000, Nodes = 1500, DualStack = true, NamespaceGlobs = true, MeshWide = 300, ServicePorts = 4, Scattered = true, Seed = 9 }, o);
        Assert.Equal(["--runs", "3"], rest);
        Assert.Equal(100_000 / 200, RealisticClusterOptions.Parse(["--pods", "100000"], out _, out _)!.NodeCount);
        Assert.Null(RealisticClusterOptions.Parse(["--pods", "lots"], out _, out error));
        Assert.Contains("--pods", error);
        Assert.Null(RealisticClusterOptions.Parse(["--pods", "100", "--namespaces", "1000"], out _, out error));
        Assert.Contains("too few", error);
        Assert.Throws<ArgumentException>(() => RealisticCluster.Generate(new RealisticClusterOptions { Pods = 10 }));
    }
}
