using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends.Text;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Benchmarks;

/// <summary>Parse + bind of a .kpl rendering of a large world (100k pods, 20k policies by default),
/// generated from a fixed seed. Prints the median of several runs.
/// <c>dotnet run --project tests/Benchmarks -c Release -- kpl [--pods N] [--policies N] [--runs N]</c></summary>
public static class KplBench
{
    public static int Run(string[] args)
    {
        int pods = Arg(args, "--pods", 100_000), policies = Arg(args, "--policies", 20_000), runs = Arg(args, "--runs", 5);
        var sw = Stopwatch.StartNew();
        var world = Generate(new Random(20260101), pods, policies);
        string text = KplPrinter.Print(world);
        Console.WriteLine($"world: {pods} pods, {policies} policies; text {text.Length / 1e6:F1} MB, {text.Count(c => c == '\n')} lines (generated and printed in {sw.Elapsed.TotalSeconds:F2} s)");
        var times = new List<double>();
        var cpus = new List<double>();
        var proc = Process.GetCurrentProcess();
        for (int i = 0; i < runs; i++)
        {
            GC.Collect();
            proc.Refresh();
            var cpu0 = proc.TotalProcessorTime;
            sw.Restart();
            var bag = new DiagnosticBag();
            var doc = KplFrontend.Parse(text, "bench.kpl", bag);
            double s = sw.Elapsed.TotalSeconds;
            proc.Refresh();
            double cpu = (proc.TotalProcessorTime - cpu0).TotalSeconds;
            times.Add(s);
            cpus.Add(cpu);
            if (bag.HasErrors || doc.World.Workloads.Length != pods || doc.World.Policies.Length != policies)
            {
                Console.Error.WriteLine("kpl bench: the world did not read back: " + string.Join("\n", bag.Items.Take(5)));
                return 1;
            }
            Console.WriteLine($"run {i + 1}: parse+bind {s:F2} s wall, {cpu:F2} s CPU");
        }
        times.Sort();
        cpus.Sort();
        Console.WriteLine($"median parse+bind: {times[times.Count / 2]:F2} s wall ({text.Length / 1e6 / times[times.Count / 2]:F1} MB/s), {cpus[cpus.Count / 2]:F2} s CPU; peak working set {Environment.WorkingSet / 1e9:F1} GB; load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        return 0;
    }

    private static int Arg(string[] args, string name, int dflt)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : dflt;
    }

    /// <summary>A cluster-shaped world: 200 namespaces, 500 nodes, pods with one or two addresses
    /// serving a service, and policies of one to three rules over every match field kind.</summary>
    public static World Generate(Random rng, int pods, int policies)
    {
        var loc = SourceLocation.None;
        int nsCount = 200;
        var ns = Enumerable.Range(0, nsCount).Select(i => new Namespace($"team-{i:D3}", loc)).ToImmutableArray();
        var nodes = Enumerable.Range(0, 500).Select(i => new Node($"node-{i:D4}", new Locality($"region-{i % 3}", $"zone-{i % 9}", ""), "", loc)).ToImmutableArray();
        var services = new List<Service>();
        for (int i = 0; i < pods / 10; i++)
        {
            string n = ns[i % nsCount].Name;
            services.Add(new Service($"svc-{i}", n, $"svc-{i}.{n}.svc.cluster.local", [new NetworkAddress("", IpAddr.V4(0x0A600000u + (uint)i))],
                [new ServicePort(80, 8080, AppProtocol.Http11)], i % 3 == 0 ? new LoadBalancing([LbScope.Network, LbScope.Region, LbScope.Zone], LbMode.Failover, HealthPolicy.OnlyHealthy) : LoadBalancing.Default, loc));
        }
        var workloads = new List<Workload>(pods);
        for (int i = 0; i < pods; i++)
        {
            string n = ns[i % nsCount].Name;
            var node = nodes[rng.Next(nodes.Length)];
            var svc = services[i % services.Count];
            ImmutableArray<IpAddr> addrs = i % 5 == 0
                ? [IpAddr.V4(0x0A000000u + (uint)i), new IpAddr(((UInt128)0xfd00_0000_0000_0000UL << 64) | (uint)i, true)]
                : [IpAddr.V4(0x0A000000u + (uint)i)];
            workloads.Add(new Workload($"Kubernetes//Pod/{n}/pod-{i}", $"pod-{i}", n, $"sa-{i % 7}", Workload.DefaultTrustDomain, addrs,
                node.Name, "", Workload.DefaultClusterId, node.Locality, WorkloadHealth.Healthy, 1,
                [new WorkloadServicePorts(svc.Key, svc.Ports)], i % 4 == 0 ? [$"{n}/policy-{i % policies}"] : [], loc));
        }
        var pols = new List<Policy>(policies);
        for (int i = 0; i < policies; i++)
        {
            string n = ns[i % nsCount].Name;
            var rules = Enumerable.Range(0, 1 + rng.Next(3)).Select(_ => new Rule(
                [.. Enumerable.Range(0, 1 + rng.Next(2)).Select(_ => new Clause([.. Enumerable.Range(0, 1 + rng.Next(2)).Select(_ => RandomMatch(rng, ns))], loc))], loc));
            pols.Add(new Policy($"policy-{i}", n, (PolicyScope)(i % 3), i % 4 == 0 ? PolicyAction.Deny : PolicyAction.Allow, false, [.. rules], loc));
        }
        return new World(ns, nodes, [.. workloads], [.. services], [.. pols]).Canonical();
    }

    private static Match RandomMatch(Random rng, ImmutableArray<Namespace> ns)
    {
        var m = Match.Empty(SourceLocation.None);
        switch (rng.Next(5))
        {
            case 0: return m with { Principals = [new StringMatch(StringMatchKind.Exact, $"cluster.local/ns/{ns[rng.Next(ns.Length)].Name}/sa/sa-{rng.Next(7)}")] };
            case 1: return m with { Namespaces = [new StringMatch(StringMatchKind.Exact, ns[rng.Next(ns.Length)].Name), new StringMatch(StringMatchKind.Prefix, "team-1")] };
            case 2: return m with { DestinationPorts = [8080, 9080], NotSourceIps = [new IpPrefix(IpAddr.V4(0x0A000000u), 16)] };
            case 3: return m with { ServiceAccounts = [new ServiceAccountMatch(ns[rng.Next(ns.Length)].Name, $"sa-{rng.Next(7)}")] };
            default: return m with { SourceIps = [new IpPrefix(IpAddr.V4(0x0A000000u + (uint)rng.Next(1 << 20)), 24)], NotPrincipals = [new StringMatch(StringMatchKind.Suffix, "/sa/admin")] };
        }
    }
}
