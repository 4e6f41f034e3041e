using System.Diagnostics;
using System.Globalization;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;

namespace KmeshCompiler.Benchmarks;

/// <summary>The YAML front end benchmark (parse + translate + validate). Areas:
///   frontend [--runs R] [--sizes 10000:2000,...] [--dir DIR]               the table of BENCHMARKS.md
///   frontend-gen --pods N --namespaces N --policies N --rules N [--seed S] -o FILE   write a generated world
///   frontend-measure FILE                                                 one timed run (fresh process)
///   frontend-repeat FILE N                                                N runs in one process (warm-up vs steady state)
/// </summary>
public static class FrontendBench
{
    public static int Run(string[] args) => Frontend(args);

    public static int GenArea(string[] args) => Gen(args);

    public static int MeasureArea(string[] args) => args.Length == 1 ? Measure(args[0]) : Usage();

    public static int RepeatArea(string[] args) => args.Length == 2 ? Repeat(args[0], int.Parse(args[1], CultureInfo.InvariantCulture)) : Usage();

    private static int Usage()
    {
        Console.Error.WriteLine("usage: Benchmarks frontend|frontend-gen|frontend-measure|frontend-repeat ...");
        return 2;
    }

    private static string Arg(string[] a, string name, string dflt)
    {
        int i = Array.IndexOf(a, name);
        return i >= 0 && i + 1 < a.Length ? a[i + 1] : dflt;
    }

    private static int Gen(string[] a)
    {
        var o = new LargeWorldOptions(
            int.Parse(Arg(a, "--pods", "10000"), CultureInfo.InvariantCulture),
            int.Parse(Arg(a, "--namespaces", "100"), CultureInfo.InvariantCulture),
            int.Parse(Arg(a, "--policies", "2000"), CultureInfo.InvariantCulture),
            int.Parse(Arg(a, "--rules", "3"), CultureInfo.InvariantCulture),
            int.Parse(Arg(a, "--seed", "1"), CultureInfo.InvariantCulture));
        string path = Arg(a, "-o", o.Name + ".yaml");
        using (var w = new StreamWriter(path) { NewLine = "\n" }) LargeWorld.Write(w, o);
        Console.WriteLine($"{path}: {new FileInfo(path).Length} bytes");
        return 0;
    }

    /// <summary>Read + parse + translate + validate one file; prints
    /// "wallSeconds peakBytes workloads policies errors cpuSeconds".</summary>
    private static int Measure(string path)
    {
        var sw = Stopwatch.StartNew();
        var res = InputLoader.Load([path], FrontendSettings.Default);
        sw.Stop();
        using var p = Process.GetCurrentProcess();
        p.Refresh();
        Console.WriteLine(string.Join(' ', sw.Elapsed.TotalSeconds.ToString("F3", CultureInfo.InvariantCulture), p.PeakWorkingSet64,
            res.World.Workloads.Length, res.World.Policies.Length, res.Diagnostics.Count(Severity.Error),
            p.TotalProcessorTime.TotalSeconds.ToString("F3", CultureInfo.InvariantCulture)));
        foreach (var d in res.Diagnostics.Sorted().Where(d => d.Severity == Severity.Error).Take(5)) Console.Error.WriteLine(d);
        return 0;
    }

    /// <summary>Several runs in one process: separates JIT warm-up from steady-state cost.</summary>
    private static int Repeat(string path, int n)
    {
        using var p = Process.GetCurrentProcess();
        for (int i = 0; i < n; i++)
        {
            p.Refresh();
            var cpu0 = p.TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            var res = InputLoader.Load([path], FrontendSettings.Default);
            p.Refresh();
            Console.WriteLine(FormattableString.Invariant($"run {i}: {sw.Elapsed.TotalSeconds:F2} s wall, {(p.TotalProcessorTime - cpu0).TotalSeconds:F2} s cpu, {res.World.Workloads.Length} workloads"));
        }
        return 0;
    }

    private static int Frontend(string[] a)
    {
        int runs = int.Parse(Arg(a, "--runs", "3"), CultureInfo.InvariantCulture);
        string sizes = Arg(a, "--sizes", "10000:2000,50000:10000,100000:20000");
        string dir = Arg(a, "--dir", Path.Combine(Path.GetTempPath(), "kmesh-bench"));
        Directory.CreateDirectory(dir);
        string self = Environment.ProcessPath!;
        string? dll = typeof(Program).Assembly.Location;
        Console.WriteLine("| pods | policies | namespaces | rules/policy | YAML MB | median wall s | median CPU s | median peak MB | runs |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var size in sizes.Split(','))
        {
            var parts = size.Split(':');
            int pods = int.Parse(parts[0], CultureInfo.InvariantCulture), policies = int.Parse(parts[1], CultureInfo.InvariantCulture);
            var o = new LargeWorldOptions(pods, Math.Max(10, pods / 100), policies, 3, 1);
            string file = Path.Combine(dir, o.Name + ".yaml");
            if (!File.Exists(file))
                using (var w = new StreamWriter(file) { NewLine = "\n" }) LargeWorld.Write(w, o);
            var times = new List<double>();
            var cpus = new List<double>();
            var peaks = new List<long>();
            for (int r = 0; r < runs; r++)
            {
                var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true };
                if (Path.GetFileNameWithoutExtension(self) == "dotnet") psi.ArgumentList.Add(dll);
                psi.ArgumentList.Add("frontend-measure");
                psi.ArgumentList.Add(file);
                using var proc = Process.Start(psi)!;
                string output = proc.StandardOutput.ReadToEnd();
                string err = proc.StandardError.ReadToEnd();
                proc.WaitForExit();
                var f = output.Trim().Split(' ');
                if (f.Length < 5 || f[4] != "0") { Console.Error.WriteLine($"measure failed: {output}{err}"); return 1; }
                times.Add(double.Parse(f[0], CultureInfo.InvariantCulture));
                peaks.Add(long.Parse(f[1], CultureInfo.InvariantCulture));
                cpus.Add(double.Parse(f[5], CultureInfo.InvariantCulture));
            }
            times.Sort();
            cpus.Sort();
            peaks.Sort();
            double mb = new FileInfo(file).Length / 1048576.0;
            Console.WriteLine(FormattableString.Invariant($"| {pods} | {policies} | {o.Namespaces} | {o.RulesPerPolicy} | {mb:F1} | {times[runs / 2]:F2} | {cpus[runs / 2]:F2} | {peaks[runs / 2] / 1048576.0:F0} | {runs} |"));
        }
        return 0;
    }
}
