using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;
using KmeshCompiler.Loader;
using KmeshCompiler.Loader.DataPlane;
using KmeshCompiler.Lowering;

namespace KmeshCompiler.Benchmarks;

/// <summary>The node images of realistic multi-tenant clusters (<see cref="RealisticCluster"/>), three areas:
///  * <c>realistic [GENERATOR SWITCHES] [--runs R] [--node N] [--write-snapshot FILE] [--sizes A,B,C]</c>:
///    generates the cluster, lowers its busiest node in process (median of R warm runs; --runs 0 only
///    generates, and writes the snapshot with --write-snapshot), prints every
///    image table's rows against its capacity, the decision table's coverage (evals with a table /
///    evals) and, when the image does not fit, the errors and the rows each table would need. With
///    --sizes, one line per table with its rows at each pod count: the growth law.
///  * <c>realistic-e2e [GENERATOR SWITCHES] [--runs R] [--node N]</c>: writes the cluster as a binary xDS
///    snapshot and times <c>kmeshc compile SNAPSHOT --node BUSIEST -o IMAGE</c> as a child process
///    (median of R), with its peak resident set (getrusage of the waited-for child); checks the image
///    equals the in-memory world's.
///  * <c>realistic-kernel [GENERATOR SWITCHES] [--samples N] [--repeat N] [--node N]</c>: XDP time per SYN
///    (BPF_PROG_TEST_RUN) over a seeded sample of real (source, destination, port) triples of the busiest
///    node, against the one-lookup baseline program, with the decision table and without it (the stages).</summary>
public static class RealisticBench
{
    private const string Usage = "usage: Benchmarks realistic|realistic-e2e|realistic-kernel " + RealisticClusterOptions.Usage +
        " [--runs R] [--node NODE] [--write-snapshot FILE] [--sizes N,N,...] [--samples N] [--repeat N]";

    private const string Help = Usage + """

        The cluster (docs/realistic-clusters.md):
          --pods N            every pod, ingress gateway and Prometheus included (default 25000)
          --namespaces N      tenant namespaces tenant-000... (default 1000)
          --nodes N           nodes (default pods/200), spread over --zones N zones (default 3)
          --dual-stack        an IPv6 address on every pod and Service too
          --ns-globs          one ALLOW from a namespace glob ("tenant-03*") per tenant namespace
          --mesh-wide K       K mesh-wide policies in istio-system (default 12)
          --service-ports N   ports of every tenant Service, 1-8 (default 3)
          --scattered         pod addresses at random offsets of the node's /23 (v6: random in its /64)
          --dense             packed from the start of the node's range (the default)
          --seed N            the generator's seed (default 1)
        The measurement:
          --runs R            timed runs, median reported (realistic: 3, lowering in process, 0 = generate only;
                              realistic-e2e: 5 kmeshc compile processes; realistic-kernel: 1)
          --node NODE         the node to compile (default: the busiest, most local workloads)
          --write-snapshot F  also write the cluster as a binary xDS snapshot (kmeshc compile F --node NODE)
          --sizes A,B,C       realistic: the rows of every table at each pod count (the growth law)
          --samples N         realistic-kernel: SYNs in the sample (default 1000)
          --repeat N          realistic-kernel: BPF_PROG_TEST_RUN repeats per SYN (default 2000)
        """;

    private sealed record Settings(RealisticClusterOptions Cluster, int Runs, string? Node, string? Snapshot, int[] Sizes, int Samples, int Repeat);

    private static Settings? Parse(string[] args, int runs)
    {
        if (args.Contains("--help") || args.Contains("-h")) { Console.WriteLine(Help); return null; }
        var o = RealisticClusterOptions.Parse(args, out var rest, out string? error);
        var s = new Settings(o ?? new RealisticClusterOptions(), runs, null, null, [], 1000, 2000);
        for (int i = 0; error is null && i < rest.Count; i++)
        {
            string a = rest[i];
            string? v = i + 1 < rest.Count ? rest[++i] : null;
            if (v is null) { error = $"{a} needs a value"; break; }
            bool Int(out int x) => int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out x) && x > 0;
            switch (a)
            {
                case "--runs" when Int(out int r) || v == "0": s = s with { Runs = r }; break;
                case "--samples" when Int(out int n): s = s with { Samples = n }; break;
                case "--repeat" when Int(out int n): s = s with { Repeat = n }; break;
                case "--node": s = s with { Node = v }; break;
                case "--write-snapshot": s = s with { Snapshot = v }; break;
                case "--sizes":
                    var sizes = v.Split(',').Select(x => int.TryParse(x, NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : -1).ToArray();
                    if (sizes.Any(n => n <= 0)) error = $"--sizes '{v}' is not a list of pod counts like 25000,100000,300000";
                    else s = s with { Sizes = sizes };
                    break;
                default: error = $"unknown option {a} or bad value {v}"; break;
            }
        }
        if (error is null) return s;
        Console.Error.WriteLine($"realistic: {error}");
        Console.Error.WriteLine(Usage);
        return null;
    }

    /// <summary>The cluster and the node to compile; null (with the reason on standard error) when the
    /// options make no cluster, for example too many pods per node, or --node names no node of it.</summary>
    private static (World World, string Node, double GenMs)? Build(Settings s)
    {
        var sw = Stopwatch.StartNew();
        World world;
        try { world = RealisticCluster.Generate(s.Cluster); }
        catch (ArgumentException e) { Console.Error.WriteLine($"realistic: {e.Message}"); return null; }
        double ms = sw.Elapsed.TotalMilliseconds;
        if (s.Node is { } n && !world.Nodes.Any(x => x.Name == n)) { Console.Error.WriteLine($"realistic: --node {n} is no node of the cluster (node-0000 ... node-{world.Nodes.Length - 1:D4})"); return null; }
        return (world, s.Node ?? RealisticCluster.BusiestNode(world), ms);
    }

    /// <summary>Writes the snapshot and says where, how large and how long; false (with the reason on
    /// standard error) when the file cannot be written.</summary>
    private static bool Write(World world, string path)
    {
        var sw = Stopwatch.StartNew();
        try { RealisticCluster.WriteSnapshot(world, path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"realistic: cannot write the snapshot {path}: {e.Message}");
            return false;
        }
        Console.WriteLine($"snapshot {path}: {new FileInfo(path).Length:N0} bytes, written in {sw.ElapsedMilliseconds} ms");
        return true;
    }

    private static void Describe(Settings s, World world, string node, double genMs)
    {
        var local = world.Workloads.Where(w => w.Node == node).ToList();
        Console.WriteLine($"# {s.Cluster.Name}: {world.Workloads.Length:N0} pods ({world.Workloads.Sum(w => w.Addresses.Length):N0} addresses) on {world.Nodes.Length:N0} nodes, " +
                          $"{world.Namespaces.Length:N0} namespaces, {world.Services.Length:N0} services ({world.Services.Sum(x => x.Ports.Length):N0} ports), " +
                          $"{world.Policies.Length:N0} policies ({world.Policies.Count(p => p.Scope == PolicyScope.Global)} mesh-wide); generated in {genMs:F0} ms");
        Console.WriteLine($"busiest node {node}: {local.Count} local workloads in {local.Select(w => w.Namespace).Distinct().Count()} namespaces; " +
                          $"load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}, {Environment.ProcessorCount} CPUs");
    }

    /// <summary>Every image table's capacity raised so far that any world lowers: the rows it needs.
    /// km_decisions keeps its own capacity (a full decision table leaves evals to the stages, it does not fail).</summary>
    public static readonly LoweringLimits Unlimited = new()
    {
        Capacities = Layout.ImageMaps.Where(m => m.Name != Layout.MapDecisions).ToDictionary(m => m.Name, _ => uint.MaxValue),
    };

    /// <summary>Rows of a section as its map counts them: entries, or for an array the highest index + 1.</summary>
    public static long Rows(ImageSection? s) =>
        s is null || s.Entries.Length == 0 ? 0 : s.Type == BpfMapType.Array ? BitConverter.ToUInt32(s.Entries[^1].Key) + 1L : s.Entries.Length;

    /// <summary>Decision-table coverage of an image: evals with a table / evals (the decision-table
    /// builder's own count, rebuilt on the image).</summary>
    public static (int Covered, int Evals) Coverage(ImageFile image)
    {
        DecisionTables.Add(image, LoweringLimits.Kernel, true, out var st);
        if (Environment.GetEnvironmentVariable("KMESH_BENCH_VERBOSE") == "1") Console.Error.WriteLine(st);
        return (st.EvalsWithTable, st.Evals);
    }

    private static string Pct(long a, long b) => b == 0 ? "-" : (100.0 * a / b).ToString("F1", CultureInfo.InvariantCulture) + "%";

    /// <summary>One lowering of the node, in process: the image, or null with the errors and the
    /// image of the same node with unlimited tables (what the tables would need).</summary>
    private sealed record Lowered(ImageFile? Image, List<Diagnostic> Errors, ImageFile? Needed, double Ms, long Allocated, LoweringStats? Stats);

    private static Lowered Lower(World world, string node, LoweringLimits? limits = null)
    {
        long alloc0 = GC.GetTotalAllocatedBytes(true);
        var sw = Stopwatch.StartNew();
        var bag = new DiagnosticBag();
        var image = Lowerer.Lower(world, node, bag, limits, out var stats);
        double ms = sw.Elapsed.TotalMilliseconds;
        long allocated = GC.GetTotalAllocatedBytes(true) - alloc0;
        var errors = bag.Sorted().Where(d => d.Severity == Severity.Error).ToList();
        return new Lowered(image, errors, null, ms, allocated, stats);
    }

    private static Lowered WithNeeded(World world, string node, Lowered l) =>
        l.Image is not null ? l : l with { Needed = Lowerer.Lower(world, node, new DiagnosticBag(), Unlimited) };

    private static int Refused(string[] args) => args.Contains("--help") || args.Contains("-h") ? 0 : 2;

    public static int Run(string[] args)
    {
        if (Parse(args, 3) is not { } s) return Refused(args);
        if (s.Sizes.Length > 0) return Growth(s);
        if (Build(s) is not var (world, node, genMs)) return 2;
        Describe(s, world, node, genMs);
        if (s.Snapshot is not null && !Write(world, s.Snapshot)) return 2;
        if (s.Runs == 0) return 0; // --runs 0: generate (and write) only
        GC.Collect();
        long heapWorld = GC.GetTotalMemory(true);

        // Warm-up run (JIT), then R timed runs, each from a collected heap.
        var first = Lower(world, node);
        var times = new List<double>();
        var allocs = new List<long>();
        Lowered? last = null;
        for (int i = 0; i < s.Runs; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            var l = last = Lower(world, node);
            times.Add(l.Ms);
            allocs.Add(l.Allocated);
        }
        using var self = Process.GetCurrentProcess();
        self.Refresh();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"lowering (in process, warm): median {Median(times):F0} ms of {s.Runs} (runs {string.Join(", ", times.Select(t => t.ToString("F0", CultureInfo.InvariantCulture)))}); " +
            $"allocated {Median(allocs.Select(a => (double)a)) / (1 << 20):F0} MiB per lowering; managed heap holding the world {heapWorld / (1 << 20)} MiB; " +
            $"process peak working set {self.PeakWorkingSet64 / (1 << 20)} MiB (generation and lowering)"));
        if (last?.Stats is { } st)
            Console.WriteLine("phases of the last run (wall/CPU ms): " + string.Join(", ", st.Phases.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Phase} {p.Ms:F0}/{p.CpuMs:F0}"))));

        var lowered = WithNeeded(world, node, first);
        if (lowered.Image is null)
        {
            Console.WriteLine($"the image does not fit: {lowered.Errors.Count} error(s)");
            foreach (var d in lowered.Errors) Console.WriteLine("  " + d);
        }
        else Console.WriteLine($"image: {lowered.Image.ToBytes().Length:N0} bytes");
        var image = lowered.Image ?? lowered.Needed;
        if (image is null) return 1;
        Console.WriteLine();
        Console.WriteLine(lowered.Image is null ? "| table | rows needed | capacity | use |" : "| table | rows | capacity | use |");
        Console.WriteLine("|---|---:|---:|---:|");
        foreach (var m in Layout.ImageMaps)
        {
            long rows = Rows(image.Section(m.Name));
            uint cap = LoweringLimits.Kernel.Capacity(m);
            Console.WriteLine($"| {m.Name} | {rows:N0} | {cap:N0} | {Pct(rows, cap)}{(rows > cap ? " (over)" : "")} |");
        }
        var (covered, evals) = Coverage(image);
        Console.WriteLine();
        Console.WriteLine($"decision-table coverage{(lowered.Image is null ? " (of the image with unlimited tables)" : "")}: {covered:N0} of {evals:N0} evals ({Pct(covered, evals)})");
        return lowered.Image is null ? 1 : 0;
    }

    /// <summary>The growth law: one world per size (the other switches unchanged; nodes one per 200 pods
    /// unless --nodes), its busiest node lowered once; rows (needed, when over) per table per size.</summary>
    private static int Growth(Settings s)
    {
        var columns = new List<(int Pods, string Node, int Local, Lowered L, (int, int) Cov)>();
        foreach (int pods in s.Sizes)
        {
            var cs = s with { Cluster = s.Cluster with { Pods = pods } };
            if (cs.Cluster.Check() is { } error) { Console.Error.WriteLine($"realistic: --sizes {pods}: {error}"); return 2; }
            if (Build(cs) is not var (world, node, genMs)) return 2;
            Describe(cs, world, node, genMs);
            Lower(world, node); // warm-up
            var l = WithNeeded(world, node, Lower(world, node));
            foreach (var d in l.Errors) Console.WriteLine("  " + d);
            var image = l.Image ?? l.Needed;
            columns.Add((pods, node, world.Workloads.Count(w => w.Node == node), l, image is null ? (0, 0) : Coverage(image)));
        }
        Console.WriteLine();
        Console.WriteLine($"| table | capacity | {string.Join(" | ", columns.Select(c => $"{c.Pods:N0} pods"))} | per 1,000 pods |");
        Console.WriteLine($"|---|---:|{string.Concat(columns.Select(_ => "---:|"))}---:|");
        Console.WriteLine($"| (busiest node: local workloads) | | {string.Join(" | ", columns.Select(c => $"{c.Node}: {c.Local}"))} | |");
        foreach (var m in Layout.ImageMaps)
        {
            uint cap = LoweringLimits.Kernel.Capacity(m);
            var rows = columns.Select(c => Rows((c.L.Image ?? c.L.Needed)?.Section(m.Name))).ToList();
            double slope = columns.Count > 1 ? (rows[^1] - rows[0]) * 1000.0 / (columns[^1].Pods - columns[0].Pods) : 0;
            Console.WriteLine($"| {m.Name} | {cap:N0} | {string.Join(" | ", rows.Select(r => $"{r:N0}{(r > cap ? " (over)" : "")}"))} | {slope.ToString("F2", CultureInfo.InvariantCulture)} |");
        }
        Console.WriteLine($"| decision-table coverage | | {string.Join(" | ", columns.Select(c => $"{c.Cov.Item1:N0}/{c.Cov.Item2:N0} ({Pct(c.Cov.Item1, c.Cov.Item2)})"))} | |");
        Console.WriteLine($"| lowering ms | | {string.Join(" | ", columns.Select(c => c.L.Ms.ToString("F0", CultureInfo.InvariantCulture)))} | |");
        Console.WriteLine($"| result | | {string.Join(" | ", columns.Select(c => c.L.Image is not null ? "fits" : string.Join(", ", c.L.Errors.Select(d => d.Code).Distinct())))} | |");
        return columns.All(c => c.L.Image is not null) ? 0 : 1;
    }

    // ---- end to end ----------------------------------------------------------------------------------

    public static int EndToEnd(string[] args)
    {
        if (Parse(args, 5) is not { } s) return Refused(args);
        string root = CheckBench.FindRoot();
        // The launcher builds (or rebuilds) the CLI when a source is newer; the runs use the built binary.
        using (var build = Process.Start(new ProcessStartInfo(Path.Combine(root, "kmeshc"), "--version") { RedirectStandardOutput = true, UseShellExecute = false })!)
        {
            build.StandardOutput.ReadToEnd();
            build.WaitForExit();
            if (build.ExitCode != 0) { Console.Error.WriteLine("realistic-e2e: ./kmeshc --version failed (the CLI does not build)"); return 2; }
        }
        string kmeshc = Path.Combine(root, ".build", "kmeshc", "kmeshc");
        if (Build(s) is not var (world, node, genMs)) return 2;
        Describe(s, world, node, genMs);
        string dir = Directory.CreateTempSubdirectory("kmesh-realistic-").FullName;
        try { return EndToEnd(s, kmeshc, world, node, dir); }
        finally { Directory.Delete(dir, true); }
    }

    private static int EndToEnd(Settings s, string kmeshc, World world, string node, string dir)
    {
        string snap = s.Snapshot ?? Path.Combine(dir, "world.pb"), img = Path.Combine(dir, "node.img");
        if (!Write(world, snap)) return 2;
        Console.WriteLine($"command: {kmeshc} compile {snap} --node {node} -o {img}");

        var runs = new List<(double Wall, double Cpu, long RssKb)>();
        string failure = "";
        int exit = 0;
        for (int i = 0; i < s.Runs; i++)
        {
            var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { "realistic-e2e-child", kmeshc, "compile", snap, "--node", node, "-o", img }) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            var err = p.StandardError.ReadToEndAsync();
            string output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            var f = output.Trim().Split(' ');
            if (p.ExitCode != 0 || f.Length != 4) { Console.Error.WriteLine($"realistic-e2e: the measuring child failed: {output} {err.Result}"); return 2; }
            exit = int.Parse(f[3], CultureInfo.InvariantCulture);
            failure = err.Result;
            runs.Add((double.Parse(f[0], CultureInfo.InvariantCulture), double.Parse(f[1], CultureInfo.InvariantCulture), long.Parse(f[2], CultureInfo.InvariantCulture)));
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"kmeshc compile end to end: median {Median(runs.Select(r => r.Wall)):F0} ms wall, {Median(runs.Select(r => r.Cpu)):F0} ms CPU, peak RSS {Median(runs.Select(r => (double)r.RssKb)) / 1024:F0} MiB " +
            $"(runs wall/CPU/RSS: {string.Join(", ", runs.Select(r => $"{r.Wall:F0}/{r.Cpu:F0} ms/{r.RssKb / 1024} MiB"))}); exit {exit}"));
        var bag = new DiagnosticBag();
        var image = Lowerer.Lower(world, node, bag);
        if (exit != 0)
        {
            Console.WriteLine("kmeshc compile failed:");
            Console.WriteLine(failure.TrimEnd());
            Console.WriteLine(image is null ? "the in-memory world fails too" : "but the in-memory world compiles: the snapshot does not carry the same world");
            return 1;
        }
        bool same = image is not null && image.ToBytes().AsSpan().SequenceEqual(File.ReadAllBytes(img));
        Console.WriteLine($"image from the snapshot {(same ? "equals" : "DIFFERS FROM")} the in-memory world's ({new FileInfo(img).Length:N0} bytes)");
        return same ? 0 : 1;
    }

    /// <summary><c>realistic-e2e-child PROGRAM ARGS...</c>: runs the program once, its output to this
    /// process's standard error, and prints "wallMs cpuMs maxRssKb exitCode". This process has no other
    /// child, so getrusage(RUSAGE_CHILDREN) after the wait is that one program's.</summary>
    public static int Child(string[] args)
    {
        var psi = new ProcessStartInfo(args[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args[1..]) psi.ArgumentList.Add(a);
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        double wall = sw.Elapsed.TotalMilliseconds;
        if (getrusage(RusageChildren, out var u) != 0) { Console.Error.WriteLine("getrusage failed"); return 2; }
        Console.Error.Write(output);
        Console.Error.Write(err.Result);
        double cpu = (u.UtimeSec + u.StimeSec) * 1000.0 + (u.UtimeUsec + u.StimeUsec) / 1000.0;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{wall:F1} {cpu:F1} {u.MaxRss} {p.ExitCode}"));
        return 0;
    }

    private const int RusageChildren = -1;

    [StructLayout(LayoutKind.Sequential)]
    private struct Rusage
    {
        public long UtimeSec, UtimeUsec, StimeSec, StimeUsec;
        public long MaxRss; // KiB
        public long Ixrss, Idrss, Isrss, Minflt, Majflt, Nswap, Inblock, Oublock, Msgsnd, Msgrcv, Nsignals, Nvcsw, Nivcsw;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int getrusage(int who, out Rusage usage);

    // ---- kernel --------------------------------------------------------------------------------------

    /// <summary>Repeats of each baseline run (its SYN costs tens of ns: more repeats for a steady mean).</summary>
    private const int BaselineRepeat = 20_000;

    public static int Kernel(string[] args)
    {
        if (Parse(args, 1) is not { } s) return Refused(args);
        if (BpfEnvironment.Unavailable() is { } why) { Console.Error.WriteLine($"realistic-kernel: {why}"); return 2; }
        if (Build(s) is not var (world, node, genMs)) return 2;
        Describe(s, world, node, genMs);
        var images = new Dictionary<string, ImageFile>();
        foreach (var (path, table) in new[] { ("table", true), ("stages", false) })
        {
            var bag = new DiagnosticBag();
            var image = Lowerer.Lower(world, node, bag, new LoweringLimits { DecisionTables = table });
            if (image is null)
            {
                Console.WriteLine($"the image of {node} does not fit ({path}):");
                foreach (var d in bag.Sorted().Where(d => d.Severity == Severity.Error)) Console.WriteLine("  " + d);
                return 1;
            }
            images[path] = image;
        }
        var triples = RealisticCluster.SampleTriples(world, node, s.Samples, s.Cluster.Seed);
        var (covered, evals) = Coverage(images["table"]);
        var tableTables = new ImageTables(images["table"]);
        var decisions = tableTables.Decisions;
        bool ByTable(Triple t) => decisions.Lookup(t.Destination, t.Port, t.Source, tableTables.IdentityOf(t.Source)) is { } d && DecisionTable.Verdict(d) is not null;
        int byTable = triples.Count(ByTable);
        var missed = triples.Where(t => !ByTable(t)).GroupBy(t => t.Port).OrderByDescending(g => g.Count()).Take(8).Select(g => $"{g.Key} ({g.Count()})");
        Console.WriteLine($"SYNs left to the stages, by port: {string.Join(", ", missed)}");
        // Why: an entry marked STAGES (more matched policies than a value counts), or none that answers
        // (a named port without a per-port table here).
        var noTable = new ImageInterpreter(images["table"], fastPath: false);
        var causes = triples.Where(t => !ByTable(t)).GroupBy(t =>
        {
            var v = noTable.Syn(t.Source, t.Destination, t.Port);
            return v.PolicyMatched.Length > Layout.DecisionMaxMatched ? $"more than {Layout.DecisionMaxMatched} policies matched" : "a named port without a per-port table";
        }).Select(g => $"{g.Key}: {g.Count()}");
        Console.WriteLine($"why: {string.Join("; ", causes)}");
        Console.WriteLine($"sample: {triples.Length} SYNs (seed {s.Cluster.Seed}), each BPF_PROG_TEST_RUN with repeat {s.Repeat}, paired with a baseline run of {BaselineRepeat} repeats; " +
                          $"decision-table coverage {covered}/{evals} evals ({Pct(covered, evals)}); the table decides {byTable} of the {triples.Length} SYNs ({Pct(byTable, triples.Length)})");

        using var baselineObj = BpfObject.Load(BpfObjectFiles.Require(BpfObjectFiles.Baseline));
        var baselineProg = baselineObj.Program("baseline_xdp");
        var baseSyn = Packets.Syn(IPAddress.Parse("10.20.0.1"), IPAddress.Parse("10.10.0.1"), 10000);
        baselineObj.Map("baseline_map").Update(BitConverter.ToUInt32(IPAddress.Parse("10.10.0.1").GetAddressBytes()), 0u);
        var frames = triples.Select(t => Packets.Syn(new IPAddress(t.Source.ToBytes()), new IPAddress(t.Destination.ToBytes()), (ushort)t.Port)).ToList();

        using var auth = DataPlane.Load();
        var actions = new Dictionary<string, XdpAction[]>();
        Console.WriteLine("| path | SYNs passed | median ns/SYN | p99 ns/SYN | baseline median ns | median x baseline | p99 x baseline |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var (path, image) in images)
        {
            auth.Fill(KernelBench.Tables(image));
            var ns = new List<double>();
            var bases = new List<double>();
            var ratios = new List<double>();
            var acts = new XdpAction[frames.Count];
            baselineProg.TestRun(baseSyn, BaselineRepeat);
            for (int i = 0; i < frames.Count; i++)
            {
                acts[i] = auth.Run(frames[i]).XdpAction; // also warms the lookups of this SYN
                double a = auth.Run(frames[i], s.Repeat).DurationNs, b = baselineProg.TestRun(baseSyn, BaselineRepeat).DurationNs;
                ns.Add(a);
                bases.Add(b);
                ratios.Add(a / b);
            }
            actions[path] = acts;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {path} | {acts.Count(x => x == XdpAction.Pass)} | {Median(ns):F0} | {Quantile(ns, 0.99):F0} | {Median(bases):F0} | {Median(ratios):F2} | {Quantile(ratios, 0.99):F2} |"));
        }
        int disagree = Enumerable.Range(0, frames.Count).Count(i => actions["table"][i] != actions["stages"][i]);
        Console.WriteLine($"table and stages disagree on {disagree} of {frames.Count} SYNs");
        return disagree == 0 ? 0 : 1;
    }

    private static double Median(IEnumerable<double> xs) => Quantile(xs, 0.5);

    private static double Quantile(IEnumerable<double> xs, double q)
    {
        var l = xs.Order().ToList();
        if (l.Count == 0) return 0;
        if (q == 0.5) return l.Count % 2 == 1 ? l[l.Count / 2] : (l[l.Count / 2 - 1] + l[l.Count / 2]) / 2;
        return l[Math.Min(l.Count - 1, (int)Math.Ceiling(q * l.Count) - 1)];
    }
}
