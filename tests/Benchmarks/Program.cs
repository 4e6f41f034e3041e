namespace KmeshCompiler.Benchmarks;

/// <summary>The benchmark harness: <c>dotnet run -c Release --project tests/Benchmarks -- AREA [options]</c>.
/// Each area lives in its own file and registers one line here.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var areas = new Dictionary<string, Func<string[], int>>(StringComparer.Ordinal)
        {
            ["xds"] = XdsBench.Run,
            ["xds-read"] = XdsBench.ReadOnce,
            ["kernel"] = KernelBench.Run,
            ["decisions"] = DecisionBench.Run,
            ["kpl"] = KplBench.Run,
            ["check"] = CheckBench.Run,
            ["diff"] = DiffBench.Run, ["diff-once"] = DiffBench.Once,
            ["frontend"] = FrontendBench.Run, ["frontend-gen"] = FrontendBench.GenArea, ["frontend-measure"] = FrontendBench.MeasureArea, ["frontend-repeat"] = FrontendBench.RepeatArea,
            ["lowering"] = LoweringBench.Run,
            ["lowering-once"] = LoweringBench.Once,
            ["loader"] = LoaderBench.Run,
            ["realistic"] = RealisticBench.Run, ["realistic-e2e"] = RealisticBench.EndToEnd, ["realistic-e2e-child"] = RealisticBench.Child,
            ["realistic-kernel"] = RealisticBench.Kernel,
            ["serve"] = ServeBench.Run,
            ["incremental"] = IncrementalBench.Run,
        };
        if (args.Length == 0 || !areas.TryGetValue(args[0], out var run))
        {
            Console.Error.WriteLine($"usage: Benchmarks AREA [options]; areas: {string.Join(", ", areas.Keys.Order())}");
            return 2;
        }
        return run(args[1..]);
    }
}
