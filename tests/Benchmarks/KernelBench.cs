using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;
using KmeshCompiler.Loader;
using KmeshCompiler.Loader.DataPlane;
using KmeshCompiler.Lowering;

namespace KmeshCompiler.Benchmarks;

/// <summary>ns per SYN decision of the XDP authorization path (BPF_PROG_TEST_RUN with repeat, the
/// kernel's own per-run timing) for 1, 10, 20, 100 and 1,000 policies on one workload, against a
/// baseline XDP program doing one hash lookup and XDP_PASS. Every figure is the median of several
/// runs, and every ratio is taken against the baseline measured in the same process.
///
/// Two shapes of policy set, both generated deterministically:
///  * port-selective: policy i allows sources 10.20.(i/256).(i%256)/32 to port 10000+i; the SYN
///    targets the last policy's port, so the port index leaves one candidate.
///  * port-agnostic: policy i allows source 10.20.x.y/32 on every port; every policy is a candidate
///    and the SYN matches only the last one (the worst case for the evaluation).
/// Each is measured twice: with the decision table (the default image) and without it (the stages).
/// Usage: dotnet run -c Release --project tests/Benchmarks -- kernel [--runs N] [--shape port-selective|port-agnostic] [--policies N]</summary>
public static class KernelBench
{
    private static readonly IpAddr Server = IpAddr.Parse("10.10.0.1");

    public static int Run(string[] args)
    {
        int runs = 7;
        string? only = null;
        int? onlyPolicies = null;
        for (int i = 0; i < args.Length - 1; i++)
        {
            if (args[i] == "--runs") runs = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            if (args[i] == "--shape") only = args[i + 1];
            if (args[i] == "--policies") onlyPolicies = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
        }
        if (BpfEnvironment.Unavailable() is { } why) { Console.Error.WriteLine($"kernel bench: {why}"); return 2; }

        Console.WriteLine($"# kernel bench: median of {runs} runs, BPF_PROG_TEST_RUN duration per packet");
        Console.WriteLine($"kernel {Environment.OSVersion.Version}, {Environment.ProcessorCount} CPUs");
        using var baselineObj = BpfObject.Load(BpfObjectFiles.Require(BpfObjectFiles.Baseline));
        var baselineProg = baselineObj.Program("baseline_xdp");
        var synToServer = Packets.Syn(IPAddress.Parse("10.20.0.1"), IPAddress.Parse("10.10.0.1"), 10000);
        baselineObj.Map("baseline_map").Update(BitConverter.ToUInt32(IPAddress.Parse("10.10.0.1").GetAddressBytes()), 0u);
        Console.WriteLine("| policies | shape | path | candidates | verdict | ns/SYN | baseline ns | x baseline (median of paired ratios) | compile ms |");
        Console.WriteLine("|---:|---|---|---:|---|---:|---:|---:|---:|");

        using var auth = DataPlane.Load();
        foreach (bool selective in new[] { true, false })
            foreach (int n in new[] { 0, 1, 10, 20, 100, 1000 })
            foreach (bool table in new[] { true, false })
            {
                if (only is not null && only != (selective ? "port-selective" : "port-agnostic")) continue;
                if (onlyPolicies is not null && onlyPolicies != n) continue;
                var world = BenchWorld(n, selective);
                var sw = Stopwatch.StartNew();
                var bag = new DiagnosticBag();
                // "table": the decision table decides (the default); "stages": the image without it,
                // every SYN takes the four tail-call stages (the table's fallback).
                var image = Lowerer.Lower(world, "n1", bag, new LoweringLimits { DecisionTables = table }) ?? throw new InvalidOperationException("lowering failed: " + string.Join("; ", bag.Sorted()));
                double compileMs = sw.Elapsed.TotalMilliseconds;
                auth.Fill(Tables(image));
                int last = Math.Max(n - 1, 0);
                var syn = Packets.Syn(IPAddress.Parse($"10.20.{last / 256}.{last % 256}"), IPAddress.Parse("10.10.0.1"), (ushort)(10000 + last));
                var verdict = auth.Run(syn).XdpAction;
                int candidates = Candidates(image, (uint)(10000 + last));
                int repeat = n >= 1000 && !selective && !table ? 2_000 : 50_000;
                // Baseline and candidate alternate, so both medians come from the same minutes of a
                // shared machine and the ratio is not skewed by load changing between rows.
                var (ns, baseNs, ratio) = Interleaved(runs, () => auth.Run(syn, repeat).DurationNs, () => baselineProg.TestRun(synToServer, 200_000).DurationNs);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {n} | {(selective ? "port-selective" : "port-agnostic")} | {(table ? "table" : "stages")} | {candidates} | {verdict} | {ns:F0} | {baseNs:F0} | {ratio:F2} | {compileMs:F1} |"));
                if (n == 20 && !selective)
                {
                    // What the table costs traffic that is not ours: a SYN to an address that is not a
                    // local workload probes the table, misses, and then misses km_workloads.
                    var stranger = Packets.Syn(IPAddress.Parse($"10.20.{last / 256}.{last % 256}"), IPAddress.Parse("10.10.0.99"), (ushort)(10000 + last));
                    var (sns, sbase, sratio) = Interleaved(runs, () => auth.Run(stranger, repeat).DurationNs, () => baselineProg.TestRun(synToServer, 200_000).DurationNs);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"| {n} | SYN to a non-local address | {(table ? "table" : "stages")} | 0 | {auth.Run(stranger).XdpAction} | {sns:F0} | {sbase:F0} | {sratio:F2} | |"));
                }
            }
        return 0;
    }

    /// <summary>Medians of <paramref name="a"/> and <paramref name="b"/> run alternately, and the
    /// median of the ratios of each pair (robust against load changing between pairs).</summary>
    private static (double A, double B, double Ratio) Interleaved(int runs, Func<double> a, Func<double> b)
    {
        a(); b(); // warm-up
        var xs = new List<double>();
        var ys = new List<double>();
        for (int i = 0; i < runs; i++) { xs.Add(a()); ys.Add(b()); }
        var ratios = xs.Zip(ys, (x, y) => x / y).Order().ToList();
        return (xs.Order().ElementAt(runs / 2), ys.Order().ElementAt(runs / 2), ratios[runs / 2]);
    }

    /// <summary>How many policies the eval of this SYN lists (what the port index left to evaluate).</summary>
    private static int Candidates(ImageFile image, uint port)
    {
        var t = new ImageTables(image);
        if (!t.Workloads.TryGetValue(Server, out var w)) return 0;
        uint eval = t.PortIndex.TryGetValue((w.WorkloadId, port), out var e) ? e : w.EvalId;
        return ImageTables.At(t.Evals, eval) is { } ev ? (int)ev.PolicyCount : 0;
    }

    public static IEnumerable<MapContent> Tables(ImageFile image) =>
        image.Sections.Select(s => new MapContent(s.Name, s.KeySize, s.ValueSize, s.Entries.Select(e => (e.Key, e.Value)).ToList()));

    /// <summary>One workload on node n1 with <paramref name="n"/> ALLOW policies (namespace scope).</summary>
    public static World BenchWorld(int n, bool portSelective)
    {
        var none = SourceLocation.None;
        var node = new Node("n1", Locality.Empty, "", none);
        var server = new Workload("Kubernetes//Pod/bench/server", "server", "bench", "default", Workload.DefaultTrustDomain,
            [Server], "n1", "", Workload.DefaultClusterId, Locality.Empty, WorkloadHealth.Healthy, 1, [], [], none);
        var policies = new List<Policy>();
        for (int i = 0; i < n; i++)
        {
            var src = IpPrefix.Host(IpAddr.Parse($"10.20.{i / 256}.{i % 256}"));
            var from = Match.Empty(none) with { SourceIps = [src] };
            var clauses = ImmutableArray.CreateBuilder<Clause>();
            if (portSelective) clauses.Add(new Clause([Match.Empty(none) with { DestinationPorts = [(uint)(10000 + i)] }], none));
            clauses.Add(new Clause([from], none));
            policies.Add(new Policy($"allow-{i:D4}", "bench", PolicyScope.Namespace, PolicyAction.Allow, false,
                [new Rule(clauses.ToImmutable(), none)], none));
        }
        return new World([new Namespace("bench", none)], [node], [server], [], [.. policies]);
    }
}
