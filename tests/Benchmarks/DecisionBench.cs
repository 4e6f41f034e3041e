using System.Diagnostics;
using System.Globalization;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Lowering;

namespace KmeshCompiler.Benchmarks;

/// <summary>Compile-time cost of the decision table: lowers the image of each given node without the
/// table, then times <see cref="DecisionTables.Add"/> on it (median of --runs).
/// INPUT "generated" is the 100,000-pod, 20,000-policy world of the kpl bench (seed 20260101).
/// Usage: dotnet run -c Release --project tests/Benchmarks -- decisions INPUT|generated [--node N]... [--runs R]</summary>
public static class DecisionBench
{
    public static int Run(string[] args)
    {
        if (args.Length == 0) { Console.Error.WriteLine("usage: Benchmarks decisions INPUT [--node N]... [--runs R]"); return 2; }
        int runs = 3;
        var nodes = new List<string>();
        for (int i = 1; i < args.Length - 1; i++)
        {
            if (args[i] == "--runs") runs = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            if (args[i] == "--node") nodes.Add(args[i + 1]);
        }
        var sw = Stopwatch.StartNew();
        Ir.World world;
        if (args[0].StartsWith("generated", StringComparison.Ordinal))
        {
            // The kpl bench's world (seed 20260101): "generated" is 100,000 pods and 20,000 policies,
            // "generated:PODS:POLICIES" another size.
            var parts = args[0].Split(':');
            int pods = parts.Length == 3 ? int.Parse(parts[1], CultureInfo.InvariantCulture) : 100_000;
            int policies = parts.Length == 3 ? int.Parse(parts[2], CultureInfo.InvariantCulture) : 20_000;
            world = KplBench.Generate(new Random(20260101), pods, policies).Canonical();
        }
        else
        {
            var load = InputLoader.Load([args[0]], new FrontendSettings());
            if (load.HasErrors) { Console.Error.WriteLine("inputs have errors"); return 1; }
            world = load.World;
        }
        Console.WriteLine($"# {args[0]}: {world.Workloads.Length} workloads, {world.Policies.Length} policies, loaded in {sw.ElapsedMilliseconds} ms");
        if (nodes.Count == 0) nodes.Add(world.Workloads.Select(w => w.Node).Where(n => n.Length > 0).Order(StringComparer.Ordinal).First());
        Console.WriteLine("| node | local workloads | evals | with table | entries | regions decided | over cap | lower ms (no table) | table ms |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var node in nodes)
        {
            var lowerMs = new List<double>();
            var tableMs = new List<double>();
            DecisionStats? st = null;
            for (int r = 0; r < runs; r++)
            {
                sw.Restart();
                var bag = new DiagnosticBag();
                var image = Lowerer.Lower(world, node, bag, new LoweringLimits { DecisionTables = false });
                lowerMs.Add(sw.Elapsed.TotalMilliseconds);
                if (image is null)
                {
                    var errors = bag.Sorted().Where(d => d.Severity == Severity.Error).ToList();
                    Console.Error.WriteLine($"node {node}: lowering failed after {lowerMs[^1]:F0} ms with {errors.Count} error(s):");
                    foreach (var d in errors.Take(10)) Console.Error.WriteLine("  " + d);
                    return 1;
                }
                sw.Restart();
                DecisionTables.Add(image, LoweringLimits.Kernel, true, out var s);
                tableMs.Add(sw.Elapsed.TotalMilliseconds);
                st = s;
            }
            int local = world.Workloads.Count(w => w.Node == node);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {node} | {local} | {st!.Evals} | {st.EvalsWithTable} | {st.Entries} | {st.RowsWalked} | {st.OverRegionCap + st.TooManyPorts + st.TooManyLengths + st.OverImageCap} | {lowerMs.Order().ElementAt(runs / 2):F0} | {tableMs.Order().ElementAt(runs / 2):F0} |"));
        }
        return 0;
    }
}
