using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using KmeshCompiler.Diff;
using KmeshCompiler.Frontends;
using KmeshCompiler.Frontends.Xds;
using KmeshCompiler.Ir;
using KmeshCompiler.Semantics;

namespace KmeshCompiler.Benchmarks;

/// <summary><c>diff [--workloads N] [--services N] [--policies N] [--runs N] [--seed N] [--mesh-wide]</c>: the
/// semantic diff of two versions of the cluster world (ClusterYaml) that differ in one selector
/// policy, end to end (<c>kmeshc diff OLD.pb NEW.pb --semantic</c>, a fresh process per run, the
/// built .build/kmeshc/kmeshc); then the engine alone, in process, for changes of 1, 10, 100 and
/// 1,000 selector policies, one namespace-wide policy (and with --mesh-wide one mesh-wide policy): how the work follows
/// the size of the change, not of the world.</summary>
public static class DiffBench
{
    public static int Run(string[] args)
    {
        int workloads = CheckBench.Arg(args, "--workloads", 100_000), services = CheckBench.Arg(args, "--services", 10_000);
        int policies = CheckBench.Arg(args, "--policies", 20_000), runs = CheckBench.Arg(args, "--runs", 5), seed = CheckBench.Arg(args, "--seed", 1);
        string kmeshc = Path.Combine(CheckBench.FindRoot(), ".build", "kmeshc", "kmeshc");
        if (!File.Exists(kmeshc)) { Console.Error.WriteLine($"build the CLI first (./kmeshc --version): {kmeshc} is missing"); return 2; }
        string dir = Path.Combine(Path.GetTempPath(), $"kmesh-diff-bench-{seed}-{workloads}-{services}-{policies}");
        Directory.CreateDirectory(dir);
        string yaml = Path.Combine(dir, "world.yaml");
        File.WriteAllText(yaml, ClusterYaml.Write(new Random(seed), workloads, services, policies, 2000));
        var world = InputLoader.Load([yaml], FrontendSettings.Default).World;
        File.Delete(yaml);
        Console.WriteLine($"world: {world.Workloads.Length} workloads, {world.Services.Length} services, {world.Policies.Length} policies (seed {seed})");

        var selector = world.Policies.Where(p => p.Scope == PolicyScope.WorkloadSelector && p.Rules.Length > 0).ToList();
        var one = Change(world, selector.Take(1));
        string oldPb = Path.Combine(dir, "old.pb"), newPb = Path.Combine(dir, "new.pb");
        File.WriteAllBytes(oldPb, SnapshotWriter.Write(world, SnapshotFormat.Binary));
        File.WriteAllBytes(newPb, SnapshotWriter.Write(one, SnapshotFormat.Binary));
        Console.WriteLine($"changed policy: {selector[0].Key} (one more port in its first rule)");

        var ms = new List<double>();
        var cpu = new List<double>();
        string summary = "";
        for (int i = 0; i < runs; i++)
        {
            double cpu0 = ChildCpuMs();
            var psi = new ProcessStartInfo(kmeshc) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { "diff", oldPb, newPb, "--semantic" }) psi.ArgumentList.Add(a);
            var sw = Stopwatch.StartNew();
            using var p = Process.Start(psi)!;
            string output = p.StandardOutput.ReadToEnd();
            p.StandardError.ReadToEnd();
            p.WaitForExit();
            ms.Add(sw.Elapsed.TotalMilliseconds);
            cpu.Add(ChildCpuMs() - cpu0);
            if (p.ExitCode != 1) { Console.Error.WriteLine($"kmeshc diff exited {p.ExitCode}, expected 1 (different)"); return 1; }
            summary = output.TrimEnd().Split('\n')[^1];
        }
        ms.Sort();
        cpu.Sort();
        Console.WriteLine($"end to end (two {new FileInfo(oldPb).Length / (1024 * 1024)} MiB snapshots): median {ms[ms.Count / 2]:F0} ms wall, {cpu[cpu.Count / 2]:F0} ms CPU (wall runs: {string.Join(", ", ms.Select(x => x.ToString("F0", CultureInfo.InvariantCulture)))}; load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]})");
        Console.WriteLine($"  {summary}");

        var evOld = new Evaluator(world);
        var ns = world.Policies.First(p => p.Scope == PolicyScope.Namespace && p.Rules.Length > 0);
        var global = world.Policies.First(p => p.Scope == PolicyScope.Global && p.Rules.Length > 0);
        Console.WriteLine("engine alone (evaluators of both sides built beforehand):");
        Console.WriteLine("| change | destinations examined | groups | evaluations | changes | median ms wall | median ms CPU |");
        var self = Process.GetCurrentProcess();
        foreach (var (label, changed) in new[]
        {
            ("1 selector policy", selector.Take(1)), ("10 selector policies", selector.Take(10)),
            ("100 selector policies", selector.Take(100)), ("1,000 selector policies", selector.Take(1000)),
            ($"1 namespace policy ({ns.Namespace})", new[] { ns }.AsEnumerable()), ("1 mesh-wide policy", new[] { global }),
        })
        {
            // A mesh-wide change examines every destination: minutes, so only when asked.
            if (label.Contains("mesh-wide", StringComparison.Ordinal) && !args.Contains("--mesh-wide")) continue;
            var evNew = new Evaluator(Change(world, changed));
            var times = new List<double>();
            var cpus = new List<double>();
            SemanticDiffResult? r = null;
            // Large changes are slow enough that one run says enough.
            for (int i = 0; i < (label.Contains("selector", StringComparison.Ordinal) && !label.StartsWith("1,000", StringComparison.Ordinal) ? Math.Max(3, runs) : 1); i++)
            {
                self.Refresh();
                var c0 = self.TotalProcessorTime;
                var sw = Stopwatch.StartNew();
                r = SemanticDiff.Compute(evOld, evNew);
                times.Add(sw.Elapsed.TotalMilliseconds);
                self.Refresh();
                cpus.Add((self.TotalProcessorTime - c0).TotalMilliseconds);
            }
            times.Sort();
            cpus.Sort();
            Console.WriteLine($"| {label} | {r!.Stats.DestinationsExamined:N0} | {r.Stats.DestinationGroups:N0} | {r.Stats.Evaluations:N0} | {r.Changes.Length:N0} | {times[times.Count / 2]:F0} | {cpus[cpus.Count / 2]:F0} |");
        }
        return 0;
    }

    /// <summary>CPU time (user + system) of the children this process has waited for, from
    /// /proc/self/stat (cutime, cstime; clock ticks of 10 ms).</summary>
    private static double ChildCpuMs()
    {
        string stat = File.ReadAllText("/proc/self/stat");
        var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(f[13], CultureInfo.InvariantCulture) + long.Parse(f[14], CultureInfo.InvariantCulture)) * 10.0;
    }

    /// <summary><c>diff-once OLD NEW</c>: one semantic diff in process, phase by phase (both inputs
    /// read in parallel as kmeshc diff reads them, both evaluators built, the engine), with wall and
    /// CPU time, so a run on a loaded machine still says what the work costs.</summary>
    public static int Once(string[] args)
    {
        var proc = Process.GetCurrentProcess();
        TimeSpan Cpu() { proc.Refresh(); return proc.TotalProcessorTime; }
        var sw = Stopwatch.StartNew();
        var cpu0 = Cpu();
        var loads = args.Take(2).Select(f => Task.Run(() => InputLoader.Load([f], FrontendSettings.Default).World)).ToArray();
        Task.WaitAll(loads);
        Console.WriteLine($"read both: {sw.ElapsedMilliseconds} ms wall, {(Cpu() - cpu0).TotalMilliseconds:F0} ms CPU");
        sw.Restart();
        cpu0 = Cpu();
        var evOld = new Evaluator(loads[0].Result);
        var evNew = new Evaluator(loads[1].Result);
        Console.WriteLine($"evaluators: {sw.ElapsedMilliseconds} ms wall, {(Cpu() - cpu0).TotalMilliseconds:F0} ms CPU");
        sw.Restart();
        cpu0 = Cpu();
        var r = SemanticDiff.Compute(evOld, evNew);
        Console.WriteLine($"engine: {sw.ElapsedMilliseconds} ms wall, {(Cpu() - cpu0).TotalMilliseconds:F0} ms CPU; {r.Changes.Length} changes, {r.Stats.DestinationsExamined} destinations, {r.Stats.Evaluations} evaluations");
        return 0;
    }

    /// <summary>The world with one more port in the first match of the first rule of each policy.</summary>
    private static World Change(World w, IEnumerable<Policy> policies)
    {
        var keys = policies.Select(p => p.Key).ToHashSet(StringComparer.Ordinal);
        return w with
        {
            Policies = [.. w.Policies.Select(p => keys.Contains(p.Key) ? AddPort(p) : p)],
        };
    }

    private static Policy AddPort(Policy p)
    {
        var rule = p.Rules[0];
        var clause = rule.Clauses.FirstOrDefault(c => c.Matches.Any(m => !m.DestinationPorts.IsEmpty));
        if (clause is null)
            return p with { Rules = p.Rules.SetItem(0, rule with { Clauses = rule.Clauses.Add(new Clause([Match.Empty(SourceLocation.None) with { DestinationPorts = [9999] }], SourceLocation.None)) }) };
        int ci = rule.Clauses.IndexOf(clause);
        int mi = clause.Matches.Select((m, i) => (m, i)).First(x => !x.m.DestinationPorts.IsEmpty).i;
        var m = clause.Matches[mi];
        var changed = clause with { Matches = clause.Matches.SetItem(mi, m with { DestinationPorts = m.DestinationPorts.Add(9443) }) };
        return p with { Rules = p.Rules.SetItem(0, rule with { Clauses = rule.Clauses.SetItem(ci, changed) }) };
    }
}
