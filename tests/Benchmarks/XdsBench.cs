using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Frontends.Xds;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Benchmarks;

/// <summary><c>xds [--workloads N] [--services N] [--policies N] [--runs N] [--seed N]</c>: reading a
/// binary xDS snapshot into the IR. A seeded world is generated and written as a snapshot (and as
/// proto JSON), then each run reads it in a fresh child process (<c>xds-read FILE</c>) so the peak
/// working set belongs to that one read. Prints the median and every run.</summary>
public static class XdsBench
{
    public static int Run(string[] args)
    {
        int workloads = Arg(args, "--workloads", 100_000), services = Arg(args, "--services", 10_000);
        int policies = Arg(args, "--policies", 20_000), runs = Arg(args, "--runs", 5), seed = Arg(args, "--seed", 1);
        string dir = Path.Combine(Path.GetTempPath(), $"kmesh-xds-bench-{seed}-{workloads}-{services}-{policies}");
        Directory.CreateDirectory(dir);
        string bin = Path.Combine(dir, "world.pb");
        string json = Path.Combine(dir, "world.snapshot.json");
        var sw = Stopwatch.StartNew();
        var world = World(new Random(seed), workloads, services, policies);
        File.WriteAllBytes(bin, SnapshotWriter.Write(world, SnapshotFormat.Binary));
        File.WriteAllBytes(json, SnapshotWriter.Write(world, SnapshotFormat.Json));
        Console.WriteLine($"generated {workloads} workloads, {services} services, {policies} policies (seed {seed}) in {sw.ElapsedMilliseconds} ms");
        Console.WriteLine($"  {bin}: {new FileInfo(bin).Length:N0} bytes; {json}: {new FileInfo(json).Length:N0} bytes");
        foreach (var file in new[] { bin, json })
        {
            var results = new List<(double Ms, double Cpu, long Peak)>();
            for (int i = 0; i < runs; i++)
            {
                var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
                foreach (var a in Environment.GetCommandLineArgs().Skip(1).TakeWhile(a => a != "xds")) psi.ArgumentList.Add(a);
                psi.ArgumentList.Add("xds-read");
                psi.ArgumentList.Add(file);
                using var p = Process.Start(psi)!;
                string output = p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                if (p.ExitCode != 0) { Console.Error.WriteLine(output); return 1; }
                var parts = output.Trim().Split(' ');
                results.Add((double.Parse(parts[0], CultureInfo.InvariantCulture), double.Parse(parts[1], CultureInfo.InvariantCulture), long.Parse(parts[2], CultureInfo.InvariantCulture)));
            }
            Console.WriteLine($"read {Path.GetFileName(file)}: median wall {Median(results, r => r.Ms):F0} ms, cpu {Median(results, r => r.Cpu):F0} ms, " +
                              $"peak working set {Median(results, r => r.Peak) / (1024 * 1024):F0} MiB " +
                              $"(runs, wall/cpu/peak: {string.Join(", ", results.Select(r => $"{r.Ms:F0}/{r.Cpu:F0} ms/{r.Peak / (1024 * 1024)} MiB"))})");
        }
        return 0;
    }

    private static double Median<T>(List<T> xs, Func<T, double> f)
    {
        var s = xs.Select(f).Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }

    /// <summary>One timed read in this process (file to IR, as every command does it): prints
    /// "wallMs cpuMs peakWorkingSetBytes". CPU time is printed because wall time on a shared
    /// machine measures the neighbours too.</summary>
    public static int ReadOnce(string[] args)
    {
        using var self = Process.GetCurrentProcess();
        var cpu0 = self.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        var res = InputLoader.Load([args[0]], FrontendSettings.Default);
        sw.Stop();
        self.Refresh();
        var cpu = self.TotalProcessorTime - cpu0;
        var w = res.World;
        if (res.HasErrors || w.Workloads.IsEmpty)
        {
            foreach (var d in res.Diagnostics.Items.Take(10)) Console.WriteLine(d);
            return 1;
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{sw.Elapsed.TotalMilliseconds:F1} {cpu.TotalMilliseconds:F1} {self.PeakWorkingSet64}"));
        GC.KeepAlive(w);
        return 0;
    }

    private static int Arg(string[] args, string name, int dflt)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : dflt;
    }

    /// <summary>A cluster-shaped world: 200 namespaces, 2,000 nodes in 3 regions, every workload in one
    /// or two services, a tenth of the workloads with selector policies, policies of 1-3 rules mixing
    /// principals, namespaces, IP blocks and ports.</summary>
    public static World World(Random rng, int nWorkloads, int nServices, int nPolicies)
    {
        var loc = SourceLocation.None;
        string Ns(int i) => $"ns-{i % 200}";
        var localities = Enumerable.Range(0, 2000).Select(i => new Locality($"region-{i % 3}", $"zone-{i % 9}", i % 4 == 0 ? $"sub-{i % 7}" : "")).ToArray();
        var services = Enumerable.Range(0, nServices).Select(i => new Service($"svc-{i}", Ns(i), $"svc-{i}.{Ns(i)}.svc.cluster.local",
            [new NetworkAddress("", IpAddr.V4(0x0A600000u + (uint)i))],
            [new ServicePort(80, 8080, AppProtocol.Http11), new ServicePort(443, 8443, AppProtocol.Tls)],
            i % 5 == 0 ? new LoadBalancing([LbScope.Region, LbScope.Zone], LbMode.Failover, HealthPolicy.OnlyHealthy) : LoadBalancing.Default, loc)).ToArray();
        var policies = Enumerable.Range(0, nPolicies).Select(i =>
        {
            var rules = Enumerable.Range(0, 1 + rng.Next(3)).Select(_ => new Rule([
                new Clause([Match.Empty(loc) with { Principals = [new StringMatch(StringMatchKind.Exact, $"cluster.local/ns/{Ns(rng.Next(200))}/sa/sa-{rng.Next(50)}")] },
                            Match.Empty(loc) with { Namespaces = [new StringMatch(StringMatchKind.Prefix, "ns-1")], NotSourceIps = [new IpPrefix(IpAddr.V4((uint)rng.Next()), 16)] }], loc),
                new Clause([Match.Empty(loc) with { DestinationPorts = [8080, 8443], NotDestinationPorts = [(uint)rng.Next(1, 65536)] }], loc)], loc)).ToImmutableArray();
            return new Policy($"pol-{i}", Ns(i), i % 10 == 0 ? PolicyScope.Namespace : PolicyScope.WorkloadSelector,
                i % 4 == 0 ? PolicyAction.Deny : PolicyAction.Allow, i % 50 == 0, rules, loc);
        }).ToArray();
        var workloads = Enumerable.Range(0, nWorkloads).Select(i =>
        {
            string ns = Ns(i);
            int node = rng.Next(localities.Length);
            var svc = services[rng.Next(services.Length)];
            ImmutableArray<string> attached = i % 10 == 0 ? [policies[rng.Next(policies.Length)].Key] : [];
            return new Workload($"Kubernetes//Pod/{ns}/pod-{i}", $"pod-{i}", ns, $"sa-{i % 50}", "cluster.local",
                [IpAddr.V4(0x0A000000u + (uint)i)], $"node-{node}", "", "Kubernetes", localities[node],
                i % 20 == 0 ? WorkloadHealth.Unhealthy : WorkloadHealth.Healthy, 1,
                [new WorkloadServicePorts(svc.Key, [new ServicePort(80, 8080, AppProtocol.Http11)])], attached, loc);
        }).ToArray();
        return new World([], [], [.. workloads], [.. services], [.. policies]).Canonical();
    }
}
