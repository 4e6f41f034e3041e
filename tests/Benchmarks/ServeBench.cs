using System.Diagnostics;
using System.Globalization;
using KmeshCompiler.Frontends;
using KmeshCompiler.Ir;
using KmeshCompiler.Loader;
using KmeshCompiler.Serve;
using Microsoft.Extensions.Logging.Abstractions;

namespace KmeshCompiler.Benchmarks;

/// <summary><c>serve [--changes N] [--world PATH | --realistic REALISTIC-OPTIONS]</c>: the online compiler's
/// loop (<see cref="ServeLoop"/>) in this process, publishing into a private bpffs, on the world of
/// the lowering benchmark for its median node (<see cref="MedianNodeWorld"/>), or on a realistic
/// cluster (docs/realistic-clusters.md) for its busiest node. Measures the initial sync (the first
/// full state from its arrival to in force, pins created), then N one-policy changes (a port added to
/// a rule of a policy of a local pod's namespace, three such policies in turn and back) and N/2 pod
/// adds and deletes (a pod on the node): the time from an update's arrival to its state's switch, as
/// the loop measures it (coalescing window, incremental compile, loader). Resident memory is the
/// process's (the world, the loop, the compiler's pieces, plus this harness's variants of the world,
/// which share almost all of it).</summary>
public static class ServeBench
{
    public static int Run(string[] args)
    {
        int changes = 40;
        for (int i = 0; i < args.Length - 1; i++)
        {
            if (args[i] == "--changes") changes = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
        }
        if (BpfEnvironment.Unavailable() is { } why) { Console.Error.WriteLine($"serve bench: {why}"); return 2; }
        var median = MedianNodeWorld.FromArgs(args);
        var world = median.World;
        string node = median.Node;
        World PolicyChanged(int k) => median.PolicyChanged(k);
        World PodAdded(int k) => median.PodAdded(k);

        Console.WriteLine($"# serve bench: {Environment.ProcessorCount} CPUs, kernel {Environment.OSVersion.Version}");
        Console.WriteLine($"world: {world.Workloads.Length:N0} pods, {world.Policies.Length:N0} policies; node {node} ({median.LocalPods.Count} local pods)");
        using var fs = new PrivateBpfFs();
        var metrics = new ServeMetrics();
        var source = new ChannelWorldSource(metrics);
        var loop = new ServeLoop(source, new ServeOptions(node, fs["kmesh"]), metrics, NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => loop.RunAsync(stop.Token));
        HandledState Apply(World w)
        {
            var h = loop.WhenHandled(source.Push(w)).WaitAsync(TimeSpan.FromMinutes(2)).GetAwaiter().GetResult();
            if (h.Outcome != StateOutcome.Published) throw new InvalidOperationException($"revision {h.Revision}: {h.Outcome}");
            return h;
        }

        var first = Apply(world);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"initial sync: {first.ToLive!.Value.TotalMilliseconds:F0} ms from arrival to in force (compile {first.Compile.TotalMilliseconds:F0} ms, publish with pins created {first.Publish.TotalMilliseconds:F0} ms)"));
        var policy = new List<HandledState>();
        var pods = new List<HandledState>();
        // Steady state: the slot the loader writes holds the image of two loads before.
        Apply(PolicyChanged(0));
        // Each state differs from the one before: the changed policies 1, 2, the original, 0, 1, ...
        for (int i = 0; i < changes; i++) policy.Add(Apply(i % 4 == 2 ? world : PolicyChanged(new[] { 1, 2, 0, 0 }[i % 4])));
        for (int i = 0; i < changes / 2; i++) pods.Add(Apply(i % 2 == 0 ? PodAdded(i) : world));
        GC.Collect();
        using var self = Process.GetCurrentProcess();
        self.Refresh();
        stop.Cancel();
        run.GetAwaiter().GetResult();
        Report("one policy changed", policy);
        Report("one pod added or deleted", pods);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"resident memory: {self.WorkingSet64 / 1048576.0:F0} MiB after the run (collected), peak {self.PeakWorkingSet64 / 1048576.0:F0} MiB"));
        return 0;
    }

    private static void Report(string what, List<HandledState> states)
    {
        var live = states.Select(s => s.ToLive!.Value.TotalMilliseconds).Order().ToList();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{what}: update to live median {Percentile(live, 50):F0} ms, p99 {Percentile(live, 99):F0} ms (min {live[0]:F0}, max {live[^1]:F0}, n={live.Count}); compile median {Percentile([.. states.Select(s => s.Compile.TotalMilliseconds).Order()], 50):F0} ms, publish median {Percentile([.. states.Select(s => s.Publish.TotalMilliseconds).Order()], 50):F0} ms"));
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    private static double Percentile(List<double> sorted, int p) => sorted[Math.Clamp((int)Math.Ceiling(p / 100.0 * sorted.Count) - 1, 0, sorted.Count - 1)];
}
