using System.Diagnostics;
using System.Globalization;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Frontends.Xds;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Benchmarks;

/// <summary><c>xds [--workloads N] [--services N] [--policies N] [--runs N] [--seed N] [--large-world]</c>: reading a
/// binary xDS snapshot into the IR. A seeded world is generated and written as a snapshot (and as
/// proto JSON), then each run reads it in a fresh child process (<c>xds-read FILE</c>) so the peak
/// working set belongs to that one read. Prints the median and every run.</summary>
public static class XdsBench
{
    public static int Run(string[] args)
    {
        int workloads = Arg(args, "--workloads", 100_000), services = Arg(args, "--services", 10_000);
        int policies = Arg(args, "--policies", 20_000), runs = Arg(args, "--runs", 5), seed = Arg(args, "--seed", 1);
        // --large-world: the Kubernetes front end's own generator (LargeWorld.cs: 8 pods per service,
        // so --services does not apply) instead of this file's.
        bool large = args.Contains("--large-world");
        string dir = Path.Combine(Path.GetTempPath(), $"kmesh-xds-bench-{seed}-{workloads}-{services}-{policies}{(large ? "-large" : "")}");
        Directory.CreateDirectory(dir);
        string yaml = Path.Combine(dir, "world.yaml");
        string bin = Path.Combine(dir, "world.pb");
        string json = Path.Combine(dir, "world.snapshot.json");
        var sw = Stopwatch.StartNew();
        if (large)
        {
            using var w = new StreamWriter(yaml);
            LargeWorld.Write(w, new LargeWorldOptions(workloads, 200, policies, 2, seed));
        }
        else File.WriteAllText(yaml, ClusterYaml.Write(new Random(seed), workloads, services, policies, 2000));
        // The snapshot is the YAML world's own: the same IR, read from the other front end.
        var loaded = InputLoader.Load([yaml], FrontendSettings.Default);
        if (loaded.HasErrors)
        {
            foreach (var d in loaded.Diagnostics.Items.Where(d => d.Severity == Severity.Error).Take(10)) Console.Error.WriteLine(d);
            return 1;
        }
        var world = loaded.World;
        File.WriteAllBytes(bin, SnapshotWriter.Write(world, SnapshotFormat.Binary));
        File.WriteAllBytes(json, SnapshotWriter.Write(world, SnapshotFormat.Json));
        Console.WriteLine($"generated {world.Workloads.Length} workloads, {world.Services.Length} services, {world.Policies.Length} policies " +
                          $"({world.Workloads.Count(w => !w.AuthorizationPolicies.IsEmpty)} with selector policies; seed {seed}) in {sw.ElapsedMilliseconds} ms");
        foreach (var f in new[] { yaml, bin, json }) Console.WriteLine($"  {f}: {new FileInfo(f).Length:N0} bytes");
        var medians = new Dictionary<string, double>();
        // --skip-json: time the binary snapshot and the YAML only (the JSON read is the slow one).
        foreach (var file in args.Contains("--skip-json") ? new[] { bin, yaml } : new[] { bin, json, yaml })
        {
            var results = new List<(double Ms, double Cpu, long Peak)>();
            for (int i = 0; i < runs; i++)
            {
                var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
                psi.ArgumentList.Add("xds-read");
                psi.ArgumentList.Add(file);
                using var p = Process.Start(psi)!;
                string output = p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                if (p.ExitCode != 0) { Console.Error.WriteLine(output); return 1; }
                var parts = output.Trim().Split(' ');
                results.Add((double.Parse(parts[0], CultureInfo.InvariantCulture), double.Parse(parts[1], CultureInfo.InvariantCulture), long.Parse(parts[2], CultureInfo.InvariantCulture)));
            }
            medians[file] = Median(results, r => r.Cpu);
            Console.WriteLine($"read {Path.GetFileName(file)}: median wall {Median(results, r => r.Ms):F0} ms, cpu {Median(results, r => r.Cpu):F0} ms, " +
                              $"peak working set {Median(results, r => r.Peak) / (1024 * 1024):F0} MiB " +
                              $"(runs, wall/cpu/peak: {string.Join(", ", results.Select(r => $"{r.Ms:F0}/{r.Cpu:F0} ms/{r.Peak / (1024 * 1024)} MiB"))})");
        }
        Console.WriteLine($"binary snapshot vs YAML (median cpu): {medians[yaml] / medians[bin]:F1}x faster");
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
}
