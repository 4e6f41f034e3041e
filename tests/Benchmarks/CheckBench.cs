using System.Diagnostics;
using System.Globalization;
using KmeshCompiler.Frontends;
using KmeshCompiler.Frontends.Text;
using KmeshCompiler.Frontends.Xds;
using KmeshCompiler.Ir;
using KmeshCompiler.Semantics;

namespace KmeshCompiler.Benchmarks;

/// <summary><c>check [--workloads N] [--services N] [--policies N] [--runs N] [--seed N]</c>: one
/// connection decided by <c>kmeshc check</c> end to end (a fresh process per run, the built
/// .build/kmeshc/kmeshc) from the same world as YAML, binary snapshot and .kpl; then the evaluator
/// alone, in process: nanoseconds per decision on random connections, and per full trace.</summary>
public static class CheckBench
{
    public static int Run(string[] args)
    {
        int workloads = Arg(args, "--workloads", 100_000), services = Arg(args, "--services", 10_000);
        int policies = Arg(args, "--policies", 20_000), runs = Arg(args, "--runs", 5), seed = Arg(args, "--seed", 1);
        string root = FindRoot();
        string kmeshc = Path.Combine(root, ".build", "kmeshc", "kmeshc");
        if (!File.Exists(kmeshc)) { Console.Error.WriteLine($"build the CLI first (./kmeshc --version): {kmeshc} is missing"); return 2; }
        string dir = Path.Combine(Path.GetTempPath(), $"kmesh-check-bench-{seed}-{workloads}-{services}-{policies}");
        Directory.CreateDirectory(dir);
        string yaml = Path.Combine(dir, "world.yaml"), bin = Path.Combine(dir, "world.pb"), kpl = Path.Combine(dir, "world.kpl");
        File.WriteAllText(yaml, ClusterYaml.Write(new Random(seed), workloads, services, policies, 2000));
        var world = InputLoader.Load([yaml], FrontendSettings.Default).World;
        File.WriteAllBytes(bin, SnapshotWriter.Write(world, SnapshotFormat.Binary));
        File.WriteAllText(kpl, KplPrinter.Print(world));
        var rng = new Random(seed);
        var dst = world.Workloads.Where(w => !w.AuthorizationPolicies.IsEmpty).DefaultIfEmpty(world.Workloads[0]).First();
        var src = world.Workloads[rng.Next(world.Workloads.Length)];
        Console.WriteLine($"world: {world.Workloads.Length} workloads, {world.Services.Length} services, {world.Policies.Length} policies (seed {seed})");
        Console.WriteLine($"check --src {src.Addresses[0]} --dst {dst.Addresses[0]} ({dst.Key}) --port 9080");

        foreach (var file in new[] { bin, kpl, yaml })
        {
            var ms = new List<double>();
            for (int i = 0; i < runs; i++)
            {
                var psi = new ProcessStartInfo(kmeshc) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
                foreach (var a in new[] { "check", file, "--src", src.Addresses[0].ToString(), "--dst", dst.Addresses[0].ToString(), "--port", "9080", "--format", "json" })
                    psi.ArgumentList.Add(a);
                var sw = Stopwatch.StartNew();
                using var p = Process.Start(psi)!;
                p.StandardOutput.ReadToEnd();
                p.StandardError.ReadToEnd();
                p.WaitForExit();
                ms.Add(sw.Elapsed.TotalMilliseconds);
                if (p.ExitCode != 0) { Console.Error.WriteLine($"kmeshc check exited {p.ExitCode} on {file}"); return 1; }
            }
            ms.Sort();
            Console.WriteLine($"end to end from {Path.GetExtension(file)} ({new FileInfo(file).Length / (1024 * 1024)} MiB): median {ms[ms.Count / 2]:F0} ms (runs: {string.Join(", ", ms.Select(x => x.ToString("F0", CultureInfo.InvariantCulture)))})");
        }

        var build = Stopwatch.StartNew();
        var ev = new Evaluator(world);
        Console.WriteLine($"evaluator index build: {build.Elapsed.TotalMilliseconds:F0} ms");
        var conns = Enumerable.Range(0, 10_000).Select(_ =>
        {
            var s = world.Workloads[rng.Next(world.Workloads.Length)].Addresses[0];
            var d = world.Workloads[rng.Next(world.Workloads.Length)].Addresses[0];
            return ev.ResolveIdentity(new Connection(s, d, (ushort)(rng.Next(2) == 0 ? 9080 : 8080), null));
        }).ToArray();
        var decide = new List<double>();
        var explain = new List<double>();
        int allows = 0;
        for (int round = 0; round < Math.Max(5, runs); round++)
        {
            var sw = Stopwatch.StartNew();
            foreach (var c in conns) if (ev.Decide(c).Decision == Decision.Allow) allows++;
            decide.Add(sw.Elapsed.TotalNanoseconds / conns.Length);
            sw.Restart();
            foreach (var c in conns.Take(1000)) ev.Explain(c);
            explain.Add(sw.Elapsed.TotalNanoseconds / 1000);
        }
        decide.Sort();
        explain.Sort();
        Console.WriteLine($"evaluation: median {decide[decide.Count / 2] / 1000:F2} µs per decision, {explain[explain.Count / 2] / 1000:F2} µs per full trace ({allows} allows)");
        return 0;
    }

    internal static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "KmeshCompiler.sln"))) return d.FullName;
        return Directory.GetCurrentDirectory();
    }

    internal static int Arg(string[] args, string name, int dflt)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : dflt;
    }
}
