using System.Diagnostics;
using System.Globalization;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;
using KmeshCompiler.Lowering;

namespace KmeshCompiler.Benchmarks;

/// <summary><c>incremental [--changes N] [--world PATH]</c>: the incremental compile alone (no
/// kernel), on the world of the lowering benchmark for its median node: N one-policy changes and N/2
/// pod adds and deletes, as the serve benchmark makes them. Prints the median of each phase of the
/// lowering and of the content hash, and what was reused, per kind of update.</summary>
public static class IncrementalBench
{
    public static int Run(string[] args)
    {
        int changes = 20;
        for (int i = 0; i < args.Length - 1; i++)
        {
            if (args[i] == "--changes") changes = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
        }
        var median = MedianNodeWorld.FromArgs(args);
        var world = median.World;
        Console.WriteLine($"# incremental bench: {Environment.ProcessorCount} CPUs; world {world.Workloads.Length:N0} pods, {world.Policies.Length:N0} policies; node {median.Node}");
        var inc = new IncrementalLowerer(median.Node);
        var sw = Stopwatch.StartNew();
        Compile(inc, world);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"first compile: {sw.Elapsed.TotalMilliseconds:F0} ms"));
        Compile(inc, median.PolicyChanged(0));
        var policy = new List<Sample>();
        for (int i = 0; i < changes; i++) policy.Add(Compile(inc, i % 4 == 2 ? world : median.PolicyChanged(new[] { 1, 2, 0, 0 }[i % 4])));
        var pods = new List<Sample>();
        for (int i = 0; i < changes / 2; i++) pods.Add(Compile(inc, i % 2 == 0 ? median.PodAdded(i) : world));
        Report("one policy changed", policy);
        Report("one pod added or deleted", pods);
        return 0;
    }

    private sealed record Sample(double Total, double Hash, IReadOnlyList<(string Phase, double Ms, double CpuMs)> Phases, string Reused);

    private static Sample Compile(IncrementalLowerer inc, World w)
    {
        var bag = new DiagnosticBag();
        var sw = Stopwatch.StartNew();
        var image = inc.Lower(w, bag, out var stats) ?? throw new InvalidOperationException(string.Join("\n", bag.Items.Take(5)));
        double lower = sw.Elapsed.TotalMilliseconds;
        image.ContentHash();
        double total = sw.Elapsed.TotalMilliseconds;
        return new Sample(total, total - lower, stats!.Phases, string.Join(", ", inc.Reused) + $" (decision rows of {inc.DecisionEvals.Reused} evals reused, {inc.DecisionEvals.Computed} computed)");
    }

    private static void Report(string what, List<Sample> samples)
    {
        static double Median(IEnumerable<double> xs)
        {
            var l = xs.Order().ToList();
            return l[l.Count / 2];
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{what}: compile + content hash median {Median(samples.Select(s => s.Total)):F1} ms (n={samples.Count}); reused: {samples[^1].Reused}"));
        var phases = samples[0].Phases.Select(p => p.Phase).ToList();
        Console.WriteLine("  phases (median wall ms): " + string.Join(", ", phases.Select(ph =>
            string.Create(CultureInfo.InvariantCulture, $"{ph} {Median(samples.Select(s => s.Phases.FirstOrDefault(p => p.Phase == ph).Ms)):F1}")))
            + string.Create(CultureInfo.InvariantCulture, $", content hash {Median(samples.Select(s => s.Hash)):F1}"));
    }
}
